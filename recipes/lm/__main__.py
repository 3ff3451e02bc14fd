"""Hydra entry point: ``python -m recipes.lm [overrides]`` (or ``composer -n N -m recipes.lm``).

Trains once and prints the result dict as one JSON line (rank 0 only).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    return value


@hydra.main(config_path=CONF_DIR, config_name="lm", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    """Run :func:`recipes.lm.train` on the composed config and return its result dict (a Hydra
    sweeper reads it from the job's ``return_value``)."""
    from recipes.lm.config import to_lm_config

    lm_cfg = to_lm_config(cfg)  # config errors surface before the heavy imports
    from recipes.lm.training import train  # Composer loads here, so --help stays fast

    result = train(lm_cfg)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({k: _jsonable(v) for k, v in result.items()}), flush=True)
    return result


if __name__ == "__main__":
    main()
