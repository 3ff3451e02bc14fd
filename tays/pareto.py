"""The 2-D Pareto front of points ``(cost, value)``, lower better in both: the one definition the
optimiser's front, the scaling fits and the tuner benchmark share."""

from __future__ import annotations

import numpy as np

__all__ = ["pareto_indices"]


def pareto_indices(cost, value) -> np.ndarray:
    """Positions of the 2-D Pareto front of the points ``(cost[i], value[i])`` (lower is better
    in both), cheapest first: in order of cost (equal costs: lower value first), a point is on
    the front when its value is below every cheaper point's. NaN values never are."""
    cost = np.asarray(cost, dtype=float)
    value = np.asarray(value, dtype=float)
    if cost.shape != value.shape or cost.ndim != 1:
        raise ValueError(f"pareto_indices: cost and value must be 1-D of one length, got "
                         f"{cost.shape} and {value.shape}")
    if not len(cost):
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((value, cost))
    v = value[order]
    best_before = np.fmin.accumulate(np.concatenate(([np.inf], v[:-1])))
    return order[v < best_before].astype(np.int64)
