"""Hydra entry point: ``python -m recipes.lm [overrides]`` (or ``composer -n N -m recipes.lm``).

Trains once and prints the result dict as one JSON line (rank 0 only); a failed run exits with
status 1 after printing it (in ``--multirun`` the sweeper gets the failed result instead).
The undecorated task function is ``_task``; ``_task.result_keys`` lists the result's keys.
"""
from __future__ import annotations

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

from recipes.lm.config import to_lm_config  # registers the schema "base_lm" before hydra.main

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")


#: Keys every successful result holds (a failed one: output, cost, status, error and what was
#: measured); a sweeper reads them from ``task_function.result_keys`` to check its objective
#: and cost keys before any trial runs.
RESULT_KEYS = (
    "output", "cost", "status", "metric.params", "metric.params_non_embedding",
    "metric.vocab_size", "metric.flops_per_token", "metric.world_size", "metric.steps",
    "metric.tokens", "metric.flops", "metric.wall_seconds", "metric.tokens_per_second",
    "metric.mfu", "metric.tokens_per_second_steady", "metric.mfu_steady",
    "metric.microbatch_size", "metric.resumed_from_step", "metric.resumed_wall_seconds",
)


def _task(cfg: DictConfig) -> dict:
    """Run :func:`recipes.lm.train` on the composed config and return its result dict (a Hydra
    sweeper reads it from the job's ``return_value``). A failed run prints its result too, then
    exits non-zero when it is a single command-line run."""
    from recipes.common import describe_error, exit_if_failed, failure_result, print_result

    try:
        lm_cfg = to_lm_config(cfg)  # config errors surface before the heavy imports
    except (ValueError, TypeError) as exc:
        result = failure_result(describe_error(exc))
    else:
        from recipes.lm.training import train  # Composer loads here, so --help stays fast

        result = train(lm_cfg)
    if int(os.environ.get("RANK", "0")) == 0:
        print_result(result)
    exit_if_failed(result)  # a single run: status 1 after the JSON; a sweep: the dict
    return result


_task.result_keys = RESULT_KEYS  # type: ignore[attr-defined]
main = hydra.main(config_path=CONF_DIR, config_name="lm", version_base="1.3")(_task)


if __name__ == "__main__":
    main()
