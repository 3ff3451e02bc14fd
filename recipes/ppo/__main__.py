"""Hydra entry point: ``python -m recipes.ppo env=coinrun total_timesteps=100000``.

Trains once and prints the result dict as one JSON line (``--help`` lists the config).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from recipes.ppo.train import train

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def _jsonable(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


@hydra.main(config_path=CONF_DIR, config_name="ppo", version_base="1.3")
def main(cfg: DictConfig) -> dict[str, Any]:
    """Train with the composed config; print and return the result dict."""
    result = train(cfg)
    print(json.dumps({k: _jsonable(v) for k, v in result.items()}))
    return result


if __name__ == "__main__":
    main()
