"""End to end on real ProcGen (StarPilot: short episodes), checkpoint resume, divergence."""
import json
import math

import pytest

from recipes.ppo import PPOConfig, load_checkpoint, train

TINY = {  # 8 envs x 64 steps per update, a quarter-width IMPALA-CNN, 4 evaluation episodes
    "env": {"games": ["starpilot"]}, "num_envs": 8, "num_steps": 64, "num_minibatches": 4,
    "update_epochs": 1, "width_multiplier": 0.25, "eval_episodes": 4, "eval_num_envs": 4,
    "env_threads": 1, "progress": False, "seed": 3,
}


def _check_result(result, games, env_steps):
    assert result["status"] == "ok", result
    assert math.isfinite(result["output"]) and result["cost"] == env_steps
    assert result["metric.env_steps"] == env_steps
    assert result["metric.wall_seconds"] > 0 and result["metric.sps"] > 0
    for key in ("approx_kl", "clip_fraction", "explained_variance", "entropy"):
        assert f"metric.{key}" in result
    for game in games:
        assert math.isfinite(result[f"metric.return_train.{game}"])
        assert math.isfinite(result[f"metric.return_test.{game}"])
    assert result["output"] == result["metric.score_test"]
    json.dumps(result)  # plain numbers only


def test_train_end_to_end_then_resume_from_checkpoint(tmp_path):
    first = train({**TINY, "total_timesteps": 1024, "checkpoint_dir": str(tmp_path)})
    _check_result(first, ["starpilot"], 1024.0)
    state, meta = load_checkpoint(tmp_path, "starpilot")  # torch.load(weights_only=True)
    assert meta["global_step"] == 1024 and meta["update"] == 2
    assert set(state) >= {"agent", "optimizer", "reward_rms", "global_step"}
    first_training_seconds = meta["wall_seconds"]

    # a longer budget continues from step 1024 instead of starting over
    second = train(PPOConfig.from_dict({**TINY, "total_timesteps": 2048,
                                        "checkpoint_dir": str(tmp_path)}))
    _check_result(second, ["starpilot"], 2048.0)
    _, meta = load_checkpoint(tmp_path, "starpilot")
    assert meta["global_step"] == 2048 and meta["update"] == 4
    # includes the first run's training time (its checkpoint's clock; the first run's own
    # wall time may also hold one-off imports, so it is not the yardstick)
    assert second["metric.wall_seconds"] > first_training_seconds > 0

    # a run whose training fields differ refuses to mix with the checkpoint: a failed trial
    # whose error names the field (train never raises)
    mixed = train({**TINY, "total_timesteps": 2048, "learning_rate": 1e-3,
                   "checkpoint_dir": str(tmp_path)})
    assert mixed["status"] == "failed" and "learning_rate" in mixed["error"]
    assert mixed["cost"] == 0.0


def test_divergence_returns_a_failure_result_not_an_exception():
    result = train({**TINY, "total_timesteps": 512, "learning_rate": 1e9, "eval_episodes": 1})
    assert result["status"] == "failed"
    assert math.isnan(result["output"])
    assert result["cost"] == 512.0  # the steps spent before it diverged
    assert "learning_rate" in result["error"]


def test_cost_in_seconds_and_train_objective():
    result = train({**TINY, "total_timesteps": 512, "cost_metric": "seconds",
                    "objective": "train", "eval_episodes": 1})
    assert result["cost"] == pytest.approx(result["metric.wall_seconds"])
    assert result["output"] == result["metric.score_train"]

