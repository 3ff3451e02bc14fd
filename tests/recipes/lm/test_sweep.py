"""A real CARBS sweep of the LM recipe through Hydra: the sweeper, the journal, Composer."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import scaling
from carbs import load_trials

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def test_lm_sweep_writes_a_journal_that_scaling_reads(lm_cache, tmp_path):
    env = {**os.environ, "TAYS_CACHE": lm_cache, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "HF_DATASETS_OFFLINE": "1"}
    sweep_dir = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "recipes.lm", "--config-dir", str(HERE / "sweep_conf"),
         "--multirun", "+sweep=lm_smoke", f"hydra.sweep.dir={sweep_dir}"],
        cwd=ROOT, env=env, text=True, capture_output=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    df = load_trials(sweep_dir)
    assert len(df) == 3 and (df["status"] == "ok").all()
    assert (df["cost"] == df["metric.flops"]).all() and (df["output"] > 0).all()
    assert {"param.train.lr", "param.train.tokens", "param.model.n_layers", "metric.params",
            "metric.tokens", "metric.wall_seconds"} <= set(df.columns)
    # every trial trained what CARBS asked for
    assert (df["metric.tokens"] >= df["param.train.tokens"]).all()
    table = scaling.load_table(sweep_dir)
    assert len(table) == 3 and "metric.params" in table
