"""Hydra entry point: ``python -m recipes.ppo env=coinrun total_timesteps=100000``.

Trains once and prints the result dict as one JSON line (``--help`` lists the config); a failed
run exits with status 1 after printing it (in ``--multirun`` the sweeper gets the failed result).
The undecorated task function is ``_task``; ``_task.result_keys`` lists the result's keys.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from recipes.common import exit_if_failed, print_result
from recipes.ppo.config import PPOConfig  # noqa: F401  registers "base_ppo" and the env options

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")


#: Keys every successful result holds (plus ``metric.return_{train,test,rollout}.<game>`` per
#: game; a failed one: output, cost, status, error and what was measured). A sweeper reads them
#: from ``task_function.result_keys``.
RESULT_KEYS = (
    "output", "cost", "status", "metric.env_steps", "metric.wall_seconds", "metric.sps",
    "metric.eval_env_steps", "metric.score_train", "metric.score_test", "metric.approx_kl",
    "metric.clip_fraction", "metric.explained_variance", "metric.entropy",
    "metric.policy_loss", "metric.value_loss",
)


def _task(cfg: DictConfig) -> dict[str, Any]:
    """Train with the composed config; print and return the result dict. A failed single run
    exits with status 1 after printing it; in a sweep the failed result is returned."""
    from recipes.ppo.train import train  # torch and envpool load here, not for --help

    result = train(cfg)
    print_result(result)
    exit_if_failed(result)
    return result


_task.result_keys = RESULT_KEYS  # type: ignore[attr-defined]
main = hydra.main(config_path=CONF_DIR, config_name="ppo", version_base="1.3")(_task)


if __name__ == "__main__":
    main()
