"""benchmarks/gpu_check.py --dry-run runs every section at tiny sizes on the CPU and prints the
JSON object the GPU run prints (last line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_dry_run_prints_every_section(tmp_path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "TAYS_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--dry-run",
                           "--out", str(tmp_path / "out")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "gpu_check" and result["dry_run"] is True
    assert result["device"] == "cpu"
    sections = result["sections"]
    assert list(sections) == ["lm", "ppo", "suggest", "lm_sweep"]
    for name, sec in sections.items():
        assert "error" not in sec, (name, sec)
    lm = sections["lm"]
    assert lm["composer"]["tokens_per_s"] > 0 and lm["plain"]["tokens_per_s"] > 0
    assert lm["mfu"] is None and lm["target_mfu"] == 0.40  # no peak FLOP/s on a CPU
    assert sections["ppo"]["steps_per_s"] > 0 and sections["ppo"]["game"] == "coinrun"
    sug = sections["suggest"]
    assert sug["gpu"]["warm_s"] > 0 and sug["cpu"]["cold_s"] > 0
    sweep = sections["lm_sweep"]
    assert sweep["returncode"] == 0 and sweep["ok"] >= 1
    table = pd.read_csv(sweep["table"])
    assert {"gpu", "metric.mfu", "metric.flops", "output", "cost"} <= set(table.columns)
    assert (table["gpu"] == "cpu").all()
    assert Path(sweep["journal"]).is_file()
