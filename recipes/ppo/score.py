"""ProcGen normalized score: ``(R - R_min) / (R_max - R_min)`` with the paper's constants.

Source: Cobbe, Hesse, Hilton, Schulman, "Leveraging Procedural Generation to Benchmark
Reinforcement Learning", ICML 2020 (arXiv:1912.01588), Appendix, table of normalization constants
(R_min, R_max) per game and distribution mode. Checked against the table as reproduced in public
ProcGen code (e.g. the PROCGEN_MINMAX_SCORES tables of several ProcGen baselines).
"""
from __future__ import annotations

import math
from collections.abc import Mapping

from recipes.ppo.envs import DISTRIBUTION_MODES, PROCGEN_GAMES

__all__ = ["RETURN_BOUNDS", "mean_normalized_score", "normalized_score"]

#: (R_min, R_max) per distribution mode and game (Cobbe et al. 2020, Appendix).
RETURN_BOUNDS: dict[str, dict[str, tuple[float, float]]] = {
    "easy": {
        "coinrun": (5.0, 10.0),
        "starpilot": (2.5, 64.0),
        "caveflyer": (3.5, 12.0),
        "dodgeball": (1.5, 19.0),
        "fruitbot": (-1.5, 32.4),
        "chaser": (0.5, 13.0),
        "miner": (1.5, 13.0),
        "jumper": (3.0, 10.0),
        "leaper": (3.0, 10.0),
        "maze": (5.0, 10.0),
        "bigfish": (1.0, 40.0),
        "heist": (3.5, 10.0),
        "climber": (2.0, 12.6),
        "plunder": (4.5, 30.0),
        "ninja": (3.5, 10.0),
        "bossfight": (0.5, 13.0),
    },
    "hard": {
        "coinrun": (5.0, 10.0),
        "starpilot": (1.5, 35.0),
        "caveflyer": (2.0, 13.4),
        "dodgeball": (1.5, 19.0),
        "fruitbot": (-0.5, 27.2),
        "chaser": (0.5, 14.2),
        "miner": (1.5, 20.0),
        "jumper": (1.0, 10.0),
        "leaper": (1.5, 10.0),
        "maze": (4.0, 10.0),
        "bigfish": (0.0, 40.0),
        "heist": (2.0, 10.0),
        "climber": (1.0, 12.6),
        "plunder": (3.0, 30.0),
        "ninja": (2.0, 10.0),
        "bossfight": (0.5, 13.0),
    },
}
assert all(set(b) == set(PROCGEN_GAMES) for b in RETURN_BOUNDS.values())
assert set(RETURN_BOUNDS) == set(DISTRIBUTION_MODES)


def normalized_score(game: str, mean_return: float, distribution_mode: str = "easy") -> float:
    """Normalized score of one game: 0 at the paper's R_min, 1 at its R_max (not clipped)."""
    if distribution_mode not in RETURN_BOUNDS:
        raise ValueError(
            f"distribution_mode: {distribution_mode!r} has no constants; use 'easy' or 'hard'"
        )
    bounds = RETURN_BOUNDS[distribution_mode]
    if game not in bounds:
        raise ValueError(f"game: unknown ProcGen game {game!r}; choose from {', '.join(bounds)}")
    r_min, r_max = bounds[game]
    return (float(mean_return) - r_min) / (r_max - r_min)


def mean_normalized_score(returns: Mapping[str, float], distribution_mode: str = "easy") -> float:
    """Mean over games of :func:`normalized_score` (``returns``: game -> mean episodic return).

    NaN if any game's return is NaN (no finished evaluation episode).
    """
    if not returns:
        raise ValueError("returns: need at least one game")
    scores = [normalized_score(g, r, distribution_mode) for g, r in returns.items()]
    if any(math.isnan(s) for s in scores):
        return math.nan
    return sum(scores) / len(scores)
