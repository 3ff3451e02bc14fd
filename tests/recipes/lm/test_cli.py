"""The Hydra CLI (``python -m recipes.lm``) and a 2-process data-parallel run (gloo on CPU)
through Composer's launcher (``composer -n 2 -m recipes.lm``)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TINY = ["model.d_model=64", "model.n_heads=2", "model.context_length=64", "data.max_bytes=400000",
        "data.vocab_size=512", "data.val_tokens=2048", "data.val_fraction=0.05"]


def _env(cache: str) -> dict:
    return {**os.environ, "TAYS_CACHE": cache, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def _last_json(stdout: str) -> dict:
    """The result line (the launcher may print its own lines after it)."""
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON result in stdout: {stdout[-2000:]}"
    return json.loads(lines[-1])


def test_help_describes_the_groups():
    out = subprocess.run([sys.executable, "-m", "recipes.lm", "--help"], cwd=ROOT, text=True,
                         capture_output=True, timeout=120, check=True).stdout
    for word in ("model:", "data:", "logger:", "composer -n", "+sweep=lm_tiny"):
        assert word in out
    for group in ("model", "data", "logger"):  # the hand-written list names every option
        for option in (ROOT / "conf" / group).glob("*.yaml"):
            assert option.stem in out, f"--help does not list {group}={option.stem}"
    assert "env:" not in out and "coinrun" not in out  # only the LM recipe's groups


def test_cli_bad_config_names_the_field(lm_cache, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "recipes.lm", "model.d_model=100", "model.n_heads=3",
         f"hydra.run.dir={tmp_path}"],
        cwd=ROOT, env=_env(lm_cache), text=True, capture_output=True, timeout=300, check=False)
    assert proc.returncode != 0 and "model.n_heads" in proc.stderr


@pytest.mark.slow
def test_two_process_data_parallel_with_composer_launcher(lm_cache, tmp_path):
    """The CLI trains, logs (logger=file, Hydra's log per rank) and prints its JSON result; here
    on two data-parallel ranks, which is the single-process path plus the launcher (a single
    process ``python -m recipes.lm`` trains in tests/recipes/lm/test_resume.py)."""
    launcher = Path(sys.executable).parent / "composer"
    proc = subprocess.run(
        [str(launcher), "-n", "2", "--stdout", str(tmp_path / "rank{rank}.out"),
         "--stderr", str(tmp_path / "rank{rank}.err"), "-m", "recipes.lm", "model=tiny",
         "data=kjv", "logger=file", *TINY, "train.tokens=20480", "train.batch_tokens=2048",
         f"hydra.run.dir={tmp_path}"],
        cwd=ROOT, env=_env(lm_cache), text=True, capture_output=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = _last_json(proc.stdout)  # rank 0 prints the result
    assert result["status"] == "ok", result
    assert result["metric.world_size"] == 2
    assert result["metric.steps"] == 10 and result["metric.tokens"] == 20480  # global batch
    assert result["output"] > 0 and result["cost"] == result["metric.flops"]
    assert (tmp_path / "composer-rank0.log").is_file()  # logger=file
    for rank in (0, 1):  # Hydra's log
        assert (tmp_path / f"__main__-rank{rank}.log").is_file()
