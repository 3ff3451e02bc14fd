"""A tiny Hydra app for the sweeper tests: a cost-aware toy objective with knobs for slowness,
failures and broken results. Run: ``python toy_sweep_app.py --multirun +sweep=toy``."""

import math
import os
import signal
import time

import hydra
from omegaconf import DictConfig


def task(cfg: DictConfig) -> dict:
    """Minimise (x - 0.3)^2 + 1/sqrt(size) (+0.05 for relu); cost = size."""
    x, size = float(cfg.x), float(cfg.size)
    if cfg.kill_job >= 0:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.get().job.num == cfg.kill_job:  # the worker dies (as the OOM killer does)
            os.kill(os.getpid(), signal.SIGKILL)
    if cfg.sleep:
        # trials with larger x take longer, so a batch finishes one trial at a time
        time.sleep(float(cfg.sleep) * (1.0 + 2.0 * (x + 2.0) / 4.0))
    if x > cfg.fail_above:
        raise RuntimeError(f"x={x} is in the region that crashes")
    if cfg.mode == "nan":
        return {"output": math.nan, "cost": size}
    if cfg.mode == "no_objective":
        return {"loss": 1.0, "cost": size}
    if cfg.mode == "exit":
        raise SystemExit(3)
    loss = (x - 0.3) ** 2 + 1.0 / math.sqrt(size) + (0.05 if cfg.act == "relu" else 0.0)
    return {"output": loss, "cost": size, "metric.size": size, "metric.pid": os.getpid()}


task.result_keys = ("output", "cost", "metric.size", "metric.pid")
main = hydra.main(config_path="conf", config_name="config", version_base="1.3")(task)

if __name__ == "__main__":
    main()
