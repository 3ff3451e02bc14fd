"""Hostile input to the PPO recipe: ``train()`` never raises, its failed result names
the field / file; ``total_timesteps`` rounding is stated; the CLI exits non-zero for a failed
single run after printing the result."""
import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import open_dict

from recipes.ppo import train
from recipes.ppo.__main__ import RESULT_KEYS

ROOT = Path(__file__).resolve().parents[3]
TINY = {  # 8 envs x 64 steps per update, a quarter-width IMPALA-CNN, 1 evaluation episode
    "env": {"games": ["starpilot"]}, "num_envs": 8, "num_steps": 64, "num_minibatches": 4,
    "update_epochs": 1, "width_multiplier": 0.25, "eval_episodes": 1, "eval_num_envs": 1,
    "env_threads": 1, "progress": False, "seed": 3,
}


@pytest.mark.parametrize(("values", "field"), [
    ({"num_envs": 0}, "num_envs"),
    ({"learning_rate": -1.0}, "learning_rate"),
    ({"num_minibatches": 7}, "num_minibatches"),
    ({"lr": 1e-3}, "lr"),
    ({"env": {"games": ["pong"]}}, "env.games"),
    ({"total_timesteps": "lots"}, "total_timesteps"),
])
def test_bad_config_is_a_failed_result_naming_the_field(values, field, failed):
    failed(train({**TINY, "total_timesteps": 512, **values}), field)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_failed_result(failed):
    failed(train({**TINY, "total_timesteps": 512, "device": "cuda"}), "device='cuda'",
            "device=cpu or auto")


@pytest.fixture(scope="module")
def rounded_run(tmp_path_factory):
    """total_timesteps=100 with a 512-step batch, checkpointed; returns (result, log, dir)."""
    ckpt = tmp_path_factory.mktemp("ppo_ckpt")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.WARNING)
    log = logging.getLogger("recipes.ppo.train")
    log.addHandler(handler)
    try:
        result = train({**TINY, "total_timesteps": 100, "checkpoint_dir": str(ckpt)})
    finally:
        log.removeHandler(handler)
    return result, [r.getMessage() for r in records], ckpt


def test_total_timesteps_rounding_is_stated(rounded_run):
    result, messages, _ = rounded_run
    assert result["status"] == "ok", result
    assert result["cost"] == 512.0 and result["metric.env_steps"] == 512.0
    assert set(RESULT_KEYS) <= set(result)
    assert any("total_timesteps=100" in m and "num_envs * num_steps = 512" in m
               and "training 512 env steps per game (1 update)" in m for m in messages)


@pytest.mark.parametrize(("name", "damage", "words"), [
    ("state.pt", lambda p: p.write_bytes(p.read_bytes()[:200]), ("state.pt", "truncated")),
    ("meta.json", lambda p: p.write_text(p.read_text()[:40]), ("meta.json", "truncated")),
    ("meta.json", lambda p: p.write_text("[1, 2]"), ("meta.json", "expected a JSON object")),
    ("state.pt", lambda p: torch.save({"agent": {}}, p), ("state.pt", "does not fit")),
])
def test_damaged_checkpoint_is_a_failed_result_naming_the_file(rounded_run, tmp_path, name,
                                                               damage, words, failed):
    _, _, ckpt = rounded_run
    folder = tmp_path / "ckpt"
    shutil.copytree(ckpt, folder)
    path = folder / "starpilot" / name
    damage(path)
    error = failed(train({**TINY, "total_timesteps": 100, "checkpoint_dir": str(folder)}),
                   str(path), *words)
    assert "resume=false" in error


@pytest.fixture
def hydra_mode():
    """Set Hydra's runtime config as ``hydra.main`` does for a single run or a multirun job
    (the LM tests run the real command line; this wiring is the same, in-process)."""
    def set_mode(mode: RunMode, overrides: list[str]):
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            full = compose(config_name="ppo", overrides=overrides, return_hydra_config=True)
            job = compose(config_name="ppo", overrides=overrides)
        with open_dict(full):
            full.hydra.mode = mode
        HydraConfig.instance().set_config(full)
        return job

    yield set_mode
    HydraConfig.instance().cfg = None


def test_failed_single_run_prints_its_result_then_exits_non_zero(hydra_mode, capsys):
    from recipes.ppo.__main__ import main

    job = hydra_mode(RunMode.RUN, ["num_envs=0"])
    with pytest.raises(SystemExit) as stop:
        main.__wrapped__(job)  # the task function hydra.main wraps
    assert str(stop.value.code).startswith("error: ValueError: num_envs=0 is invalid")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["status"] == "failed" and "num_envs" in result["error"]


@pytest.mark.parametrize(("override", "field"), [("+foo=1", "foo"), ("+env.foo=1", "env.foo")])
def test_a_key_added_on_the_command_line_is_an_error_naming_it(hydra_mode, capsys, override,
                                                                field):
    """``+key=value`` gets past Hydra's schema check; training must not ignore it."""
    from recipes.ppo.__main__ import _task

    job = hydra_mode(RunMode.RUN, [override])
    with pytest.raises(SystemExit) as stop:
        _task(job)
    assert str(stop.value.code).startswith(f"error: ValueError: {field}: unknown field;")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["status"] == "failed" and result["cost"] == 0.0


def test_failed_multirun_job_returns_its_result(hydra_mode):
    from recipes.ppo.__main__ import main

    result = main.__wrapped__(hydra_mode(RunMode.MULTIRUN, ["num_envs=0"]))
    assert result["status"] == "failed" and "num_envs" in result["error"]


def test_task_function_exposes_its_result_keys():
    from recipes.ppo import __main__ as cli

    assert cli.main.__wrapped__ is cli._task
    assert cli._task.result_keys == cli.main.result_keys == RESULT_KEYS
    assert {"output", "cost", "metric.env_steps", "metric.wall_seconds"} <= set(RESULT_KEYS)
