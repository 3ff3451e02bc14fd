"""A real CARBS sweep of the LM recipe through Hydra (the sweeper, the journal, Composer), run by
``python -m benchmarks.gpu_check --dry-run``, which runs every section of the GPU check at tiny sizes on
the CPU and prints the JSON object the GPU run prints (last line). One run checks both: the GPU
check's sweep is the test sweep ``lm_smoke`` (``sweep_conf/``, given with ``--config-dir``), in
its own process as always; the check itself runs in this process (``gpu_check.main``)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import scaling
from benchmarks import gpu_check
from carbs import load_trials

# the GPU check's LM section loads Composer: run beside the other in-process training tests
pytestmark = pytest.mark.xdist_group("composer")

HERE = Path(__file__).resolve().parent


def test_gpu_check_dry_run_and_an_lm_sweep_whose_journal_scaling_reads(lm_cache, tmp_path,
                                                                       monkeypatch, capsys):
    for var, value in {"TAYS_CACHE": lm_cache, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                       "HF_DATASETS_OFFLINE": "1"}.items():  # the sweep's process inherits them
        monkeypatch.setenv(var, value)
    rc = gpu_check.main(["--dry-run", "--out", str(tmp_path / "out"), "--sweep", "lm_smoke",
                         "--sweep-config-dir", str(HERE / "sweep_conf"), "--sweep-trials", "3"])
    out, err = capsys.readouterr()
    assert rc == 0, err[-4000:]
    result = json.loads(out.strip().splitlines()[-1])
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
    assert sweep["returncode"] == 0 and sweep["trials"] == 3 and sweep["ok"] == 3
    assert "--config-dir" in sweep["command"] and "+sweep=lm_smoke" in sweep["command"]
    table = pd.read_csv(sweep["table"])
    assert {"gpu", "metric.mfu", "metric.flops", "output", "cost"} <= set(table.columns)
    assert (table["gpu"] == "cpu").all()
    df = load_trials(sweep["journal"])  # the sweep's journal, as the GPU check ships it
    assert len(df) == 3 and (df["status"] == "ok").all()
    assert (df["cost"] == df["metric.flops"]).all() and (df["output"] > 0).all()
    assert {"param.train.lr", "param.train.tokens", "param.model.n_layers", "metric.params",
            "metric.tokens", "metric.wall_seconds"} <= set(df.columns)
    # every trial trained what CARBS asked for
    assert (df["metric.tokens"] >= df["param.train.tokens"]).all()
    table = scaling.load_table(sweep["journal"])
    assert len(table) == 3 and "metric.params" in table
