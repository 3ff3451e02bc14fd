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


def _composer(tmp_path: Path, cache: str, run_dir: Path, *overrides: str):
    launcher = Path(sys.executable).parent / "composer"
    run_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(launcher), "-n", "2", "--stdout", str(run_dir / "rank{rank}.out"),
         "--stderr", str(run_dir / "rank{rank}.err"), "-m", "recipes.lm", "model=tiny",
         "data=kjv", "logger=file", *TINY, "train.batch_tokens=2048",
         f"hydra.run.dir={run_dir}", *overrides],
        cwd=ROOT, env=_env(cache), text=True, capture_output=True, timeout=240, check=False)


@pytest.mark.slow
def test_two_ranks_resume_past_a_damaged_checkpoint(lm_cache, tmp_path, damage_checkpoint):
    """Two data-parallel ranks (gloo on CPU) through Composer's launcher resume a run whose last
    checkpoint cannot be loaded from the one before: rank 0 alone sets the damaged file aside
    while rank 1 waits (both renaming it was a crash); they train, log (logger=file, Hydra's log
    per rank), print the JSON result and export the model. The run they resume was started by one process (in
    this one, to save a launch); a single ``python -m recipes.lm`` trains in test_resume.py."""
    from hydra import compose, initialize_config_dir

    from recipes import lm

    ckpt = tmp_path / "ckpt"
    resumable = [f"train.save_folder={ckpt}", "train.save_interval=4ba", "train.autoresume=true",
                 "train.run_name=two", "train.batch_tokens=2048"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="lm", overrides=[*TINY, *resumable, "logger=none",
                                                   "train.tokens=16384",
                                                   f"data.cache_dir={lm_cache}"])
    first = lm.train(cfg)
    assert first["status"] == "ok" and first["metric.steps"] == 8, first

    damage_checkpoint["drop_last_record"](ckpt / "ep0-ba8-rank0.pt")  # loads on neither rank
    launcher = Path(sys.executable).parent / "composer"
    proc = subprocess.run(
        [str(launcher), "-n", "2", "--stdout", str(tmp_path / "rank{rank}.out"),
         "--stderr", str(tmp_path / "rank{rank}.err"), "-m", "recipes.lm", "model=tiny",
         "data=kjv", "logger=file", *TINY, *resumable, "train.tokens=24576",
         f"hydra.run.dir={tmp_path}"],
        cwd=ROOT, env=_env(lm_cache), text=True, capture_output=True, timeout=240, check=False)
    logs = {rank: (tmp_path / f"__main__-rank{rank}.log").read_text() for rank in (0, 1)}
    assert proc.returncode == 0, (proc.stderr[-2000:], logs)
    result = _last_json(proc.stdout)  # rank 0 prints the result
    assert result["status"] == "ok", result
    assert result["metric.world_size"] == 2
    assert result["metric.resumed_from_step"] == 4 and result["metric.steps"] == 12
    assert result["metric.tokens"] == 24576  # 12 global batches
    assert result["output"] > 0 and result["cost"] == result["metric.flops"]
    assert "could not be loaded" in logs[0] and str(ckpt / "ep0-ba4-rank0.pt") in logs[0]
    assert "could not be loaded" not in logs[1]  # rank 0 alone repaired
    assert "FileNotFoundError" not in logs[0] + logs[1]
    assert (ckpt / "ep0-ba8-rank0.pt.corrupt").is_file()
    assert (tmp_path / "composer-rank0.log").is_file()  # logger=file
    # a single command-line run exports its model, gathered over the ranks, written by rank 0
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["model_type"] == "gpt_neox"
