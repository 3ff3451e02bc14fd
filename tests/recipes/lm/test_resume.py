"""Kill and resume: a run SIGTERMed mid-training and relaunched with
``train.autoresume`` reports the whole run (cost, tokens, FLOPs, steps, wall seconds) exactly
like an uninterrupted one; relaunching the finished run returns its result again."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from recipes import lm
from recipes.lm.__main__ import RESULT_KEYS

# Composer loads (~6 s) only in the xdist worker that runs the in-process training tests
pytestmark = pytest.mark.xdist_group("composer")

ROOT = Path(__file__).resolve().parents[3]
STEPS = 40
OVERRIDES = ["model.d_model=64", "model.n_layers=2", "model.n_heads=2",
             "model.context_length=64", "data=kjv", "data.max_bytes=400000",
             "data.vocab_size=512", "data.val_tokens=2048", "data.val_fraction=0.05",
             f"train.tokens={STEPS * 1024}", "train.batch_tokens=1024", "train.lr=3e-3",
             "train.seed=3", "logger=none"]
WHOLE_RUN = ("cost", "metric.tokens", "metric.flops", "metric.steps")


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="lm", overrides=overrides)


@pytest.fixture(scope="module")
def uninterrupted(lm_cache):
    """The reference: the same configuration trained in one go, without checkpoints."""
    result = lm.train(_compose([*OVERRIDES, f"data.cache_dir={lm_cache}"]))
    assert result["status"] == "ok", result
    assert set(RESULT_KEYS) <= set(result)  # the task function's advertised keys
    return result


def test_killed_and_resumed_run_reports_the_whole_run(uninterrupted, lm_cache, tmp_path):
    ckpt = tmp_path / "ckpt"
    resumable = [*OVERRIDES, f"data.cache_dir={lm_cache}", "train.autoresume=true",
                 f"train.save_folder={ckpt}", "train.run_name=killed", "train.save_interval=5ba"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "recipes.lm", *resumable,
                             f"hydra.run.dir={tmp_path / 'run'}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not (ckpt / "ep0-ba10-rank0.pt").exists():  # mid-training: 10 of 40 steps saved
            assert proc.poll() is None, f"run ended before it was killed: {proc.communicate()}"
            assert time.perf_counter() - started < 240, "no checkpoint after 240 s"
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lifetime = time.perf_counter() - started
    assert proc.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM), err[-2000:]  # killed

    start = time.perf_counter()
    resumed = lm.train(_compose(resumable))
    rerun_seconds = time.perf_counter() - start
    assert resumed["status"] == "ok", resumed
    step = resumed["metric.resumed_from_step"]
    assert 0 < step < STEPS and step % 5 == 0
    for key in WHOLE_RUN:  # bug 1: counted only the steps after the resume
        assert resumed[key] == uninterrupted[key], key
    assert resumed["metric.steps"] == STEPS and resumed["metric.tokens"] == STEPS * 1024
    assert resumed["output"] == pytest.approx(uninterrupted["output"], abs=1e-5)
    # wall seconds counted whole: the killed process's time (up to its checkpoint) + this one's
    prior = resumed["metric.resumed_wall_seconds"]
    assert 0 < prior < lifetime
    assert prior < resumed["metric.wall_seconds"] <= prior + rerun_seconds

    # bug 3: relaunching the finished run returns its result, not "max_duration ... elapsed"
    again = lm.train(_compose(resumable))
    assert again["status"] == "ok", again
    assert again["metric.resumed_from_step"] == STEPS
    for key in WHOLE_RUN:
        assert again[key] == resumed[key], key
    assert again["output"] == pytest.approx(resumed["output"], abs=1e-6)
    assert again["metric.wall_seconds"] > again["metric.resumed_wall_seconds"] > prior
