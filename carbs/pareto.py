"""Grouping of resamples and the cost/output Pareto front (plain and conservative).

Pure functions on arrays. Outputs here are *signed* so that larger is better
(``better_direction_sign * output``).

The front, as CARBS defines it:

1. Observations with identical inputs form a group (resamples); each group has a mean output
   and a mean cost.
2. Every group whose cost is at or below the ``min_pareto_cost_fraction`` quantile of the group
   costs collapses into its single best group (cheap runs are noisy). In the *conservative*
   variant, resampled groups (more than one sample) are preferred among these cheapest groups
   whenever any exist, as in the reference, with one fix: a single-sample cheap group still
   displaces the best resampled one when it beats that group's *best* single output (the same
   bar step 3 sets). Without it, when all costs are equal (a cost-free problem) or the cheap
   end is crowded, the first resampled group stayed the whole cheap end of the front for the rest
   of the sweep, however much better the later single runs were (found by benchmarks/tuners).
   The displacing group is then the front group with fewest samples, so resampling confirms or
   rejects it next.
3. The remaining groups, in order of increasing cost, join the front only when they beat the
   previous front group: plain, the group's mean must exceed the previous front group's mean;
   conservative, a single-sample group must exceed the *maximum* single output of the previous
   front group (a resampled group is still compared by its mean).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Groups", "group_resamples", "pareto_group_indices"]


@dataclass
class Groups:
    """Resample groups: ``inverse[i]`` is the group of observation ``i``."""

    inverse: np.ndarray  # (n,) group index of each observation
    first: np.ndarray  # (g,) index of the first observation of each group
    mean_output: np.ndarray  # (g,) signed mean output
    max_output: np.ndarray  # (g,) signed maximum single output
    mean_cost: np.ndarray  # (g,)
    count: np.ndarray  # (g,)

    def __len__(self) -> int:
        return len(self.first)


def group_resamples(
    inputs: np.ndarray, signed_outputs: np.ndarray, costs: np.ndarray, decimals: int = 9
) -> Groups:
    """Group rows of ``inputs`` that are identical (after rounding to ``decimals``)."""
    inputs = np.asarray(inputs, dtype=np.float64)
    y = np.asarray(signed_outputs, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    if inputs.ndim != 2 or len(inputs) != len(y) or len(y) != len(c):
        raise ValueError("group_resamples: inputs (n, d), outputs (n,), costs (n,) must agree in n")
    if len(y) == 0:
        empty = np.zeros(0)
        return Groups(np.zeros(0, np.int64), np.zeros(0, np.int64), empty, empty, empty,
                      np.zeros(0, np.int64))
    keys = np.round(inputs, decimals) + 0.0  # +0.0 turns -0.0 into 0.0
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    g = len(first)
    count = np.bincount(inverse, minlength=g)
    mean_y = np.bincount(inverse, weights=y, minlength=g) / count
    mean_c = np.bincount(inverse, weights=c, minlength=g) / count
    max_y = np.full(g, -np.inf)
    np.maximum.at(max_y, inverse, y)
    # order groups by first appearance for stable, readable results
    order = np.argsort(first, kind="stable")
    remap = np.empty_like(order)
    remap[order] = np.arange(g)
    return Groups(remap[inverse], first[order], mean_y[order], max_y[order], mean_c[order],
                  count[order])


def pareto_group_indices(
    groups: Groups, min_pareto_cost_fraction: float = 0.2, conservative: bool = True,
    observation_costs: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of the Pareto groups, sorted by increasing mean cost. The cheap threshold is the
    ``min_pareto_cost_fraction`` quantile of the group mean costs, or of
    ``observation_costs`` when given."""
    g = len(groups)
    if g == 0:
        return np.zeros(0, dtype=np.int64)
    if not 0.0 <= min_pareto_cost_fraction < 1.0:
        raise ValueError("min_pareto_cost_fraction must be in [0, 1)")
    costs = groups.mean_cost
    threshold = np.quantile(costs if observation_costs is None else observation_costs,
                            min_pareto_cost_fraction)
    threshold = max(threshold, costs.min())  # a resampled group's mean may exceed its runs'
    cheap = np.flatnonzero(costs <= threshold)
    if conservative:
        resampled = cheap[groups.count[cheap] > 1]
        if len(resampled):
            anchor = resampled[np.lexsort((costs[resampled], -groups.mean_output[resampled]))[0]]
            bar = max(groups.max_output[anchor], groups.mean_output[anchor])
            singles = cheap[groups.count[cheap] == 1]
            cheap = np.concatenate([[anchor], singles[groups.mean_output[singles] > bar]])
    # best of the cheap groups (ties: the cheaper one)
    order = np.lexsort((costs[cheap], -groups.mean_output[cheap]))
    front = [int(cheap[order[0]])]
    rest = np.flatnonzero(costs > threshold)
    rest = rest[np.lexsort((rest, costs[rest]))]
    for j in rest:
        prev = front[-1]
        if conservative and groups.count[j] == 1:
            bar = max(groups.max_output[prev], groups.mean_output[prev])
        else:
            bar = groups.mean_output[prev]
        if groups.mean_output[j] > bar:
            front.append(int(j))
    return np.array(front, dtype=np.int64)
