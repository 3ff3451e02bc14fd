"""A tiny Hydra app for the sweeper tests: a cost-aware toy objective with knobs for slowness,
failures and broken results. Run: ``python toy_sweep_app.py --multirun +sweep=toy``."""

import logging
import math
import os
import signal
import time

import hydra
from omegaconf import DictConfig


def task(cfg: DictConfig) -> dict:
    """Minimise (x - 0.3)^2 + 1/sqrt(size) (+0.05 for relu); cost = size."""
    x, size = float(cfg.x), float(cfg.size)
    print(f"toy trial x={x} size={size}")  # the trial's own output: its job log, not the console
    logging.getLogger("toy").info("toy trial log line")
    from hydra.core.hydra_config import HydraConfig

    job = HydraConfig.get().job.num
    if cfg.kill_job >= 0 or cfg.hang_job >= 0:
        if job == cfg.kill_job:  # the worker dies (as the OOM killer does)
            os.kill(os.getpid(), signal.SIGKILL)
        if job == cfg.hang_job:  # a worker that never answers (trial_timeout_s frees it)
            time.sleep(3600)
    if cfg.sleep and job >= cfg.quick_jobs:  # the first quick_jobs jobs do not sleep
        # trials with larger x take longer, so a batch finishes one trial at a time; tests that
        # resume a slow sweep in their own process speed it up with TOY_SLEEP_SCALE (the
        # environment is not part of a sweep's identity, its overrides are)
        scale = float(os.environ.get("TOY_SLEEP_SCALE", "1"))
        time.sleep(float(cfg.sleep) * scale * (1.0 + 2.0 * (x + 2.0) / 4.0))
    if x > cfg.fail_above:
        raise RuntimeError(f"x={x} is in the region that crashes")
    if cfg.mode == "nan":
        return {"output": math.nan, "cost": size}
    if cfg.mode == "no_objective":
        return {"loss": 1.0, "cost": size}
    if cfg.mode == "exit":
        raise SystemExit(3)
    if cfg.mode in ("cost_inf", "cost_str", "huge_cost"):
        cost = {"cost_inf": math.inf, "cost_str": "9.13", "huge_cost": 1e308}[cfg.mode]
        return {"output": 1.0, "cost": cost}
    loss = (x - 0.3) ** 2 + 1.0 / math.sqrt(size) + (0.05 if cfg.act == "relu" else 0.0)
    return {"output": loss, "cost": size, "metric.size": size, "metric.pid": os.getpid()}


task.result_keys = ("output", "cost", "metric.size", "metric.pid")
main = hydra.main(config_path="conf", config_name="config", version_base="1.3")(task)

if __name__ == "__main__":
    main()
