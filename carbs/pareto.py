"""Grouping of resamples and the cost/output Pareto front (plain and conservative).

Pure functions on arrays. Outputs here are *signed* so that larger is better
(``better_direction_sign * output``).

The front, as CARBS defines it:

1. Observations with identical inputs form a group (resamples); each group has a mean output
   and a mean cost.
2. Every group whose cost is at or below the ``min_pareto_cost_fraction`` quantile of the group
   costs collapses into its single best group (cheap runs are noisy). The quantile is taken over
   the groups' mean costs; the reference takes it over the observations' costs (a resampled group
   then counts once per run). Both were measured in benchmarks/tuners with the default
   (cost-stratified) search, 4 seeds, median front gap, groups vs observations: chinchilla 0.079
   vs 0.079, branin-cost 0.023 vs 0.035, hartmann6-cost 0.115 vs 0.123, rosenbrock10-cost 0.042
   vs 0.165; so we keep the group means. In the *conservative* variant, resampled groups (more
   than one sample) are preferred among these cheapest groups whenever any exist, as in the
   reference, with one fix: a single-sample cheap group still displaces the best resampled one
   when it beats that group's *best* single output (the same bar step 3 sets). Without it, when
   all costs are equal (a cost-free problem) or the cheap end is crowded, the first resampled
   group stayed the whole cheap end of the front for the rest of the sweep, however much better
   the later single runs were (found by benchmarks/tuners).
3. The remaining groups, in order of increasing cost, join the front only when they beat the
   previous front group: plain, the group's mean must exceed the previous front group's mean;
   conservative, a single-sample group must exceed the *maximum* single output of the previous
   front group (a resampled group is still compared by its mean).

The optimiser searches around the conservative front (by default) and *resamples* from the plain
one, as the reference does:

- every ``resample_frequency`` *successful* observations (failures do not count), CARBS suggests
  again the group of the **plain** front with the fewest samples (the cheapest among equals) that
  has no run outstanding;
- the plain front, because a single run that beats a group's mean but not that group's best sample
  never enters the conservative front: it has to be resampled to earn its place there, and
  resampling from the conservative front would only ever pick the groups already on it.

Worked example (``tests/carbs/test_pareto.py``, ``tests/carbs/test_optimizer.py``): A is a
resampled group (outputs 0.0 and 1.0: mean 0.5, best sample 1.0; cost 1); B, C and D are single
runs (0.6, 0.7, 0.8 at costs 2, 3, 4) that beat A's mean but not its best sample. The
conservative front is [A]; the plain front is [A, B, C, D]. Resampling from the conservative front
would pick A again and the front would stay [A]; from the plain front it picks B (one sample,
cheapest). If B's second run gives 0.9, B's mean 0.75 beats A's mean 0.5 and B joins the
conservative front: [A, B].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tays import pareto_indices

__all__ = ["Groups", "group_basic_resamples", "pareto_group_indices"]


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


def group_basic_resamples(
    inputs: np.ndarray, signed_outputs: np.ndarray, costs: np.ndarray, decimals: int = 9
) -> Groups:
    """Group observations whose basic-space ``inputs`` rows are identical (after rounding to
    ``decimals``); the table-side counterpart is :func:`scaling.group_table_resamples`."""
    inputs = np.asarray(inputs, dtype=np.float64)
    y = np.asarray(signed_outputs, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    if inputs.ndim != 2 or len(inputs) != len(y) or len(y) != len(c):
        raise ValueError("group_basic_resamples: inputs (n, d), outputs (n,), costs (n,) must "
                         "agree in n")
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
    groups: Groups, min_pareto_cost_fraction: float = 0.2, conservative: bool = True
) -> np.ndarray:
    """Indices of the Pareto groups, sorted by increasing mean cost (see the module docstring;
    the cheap threshold is the ``min_pareto_cost_fraction`` quantile of the group mean costs)."""
    g = len(groups)
    if g == 0:
        return np.zeros(0, dtype=np.int64)
    if not 0.0 <= min_pareto_cost_fraction < 1.0:
        raise ValueError("min_pareto_cost_fraction must be in [0, 1)")
    costs = groups.mean_cost
    threshold = np.quantile(costs, min_pareto_cost_fraction)
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
    if not conservative:  # the plain 2-D front of the cheap end's best and the costlier groups
        cand = np.concatenate([front, rest]).astype(np.int64)
        return cand[pareto_indices(costs[cand], -groups.mean_output[cand])]
    rest = rest[np.lexsort((rest, costs[rest]))]
    for j in rest:
        prev = front[-1]
        if groups.count[j] == 1:
            bar = max(groups.max_output[prev], groups.mean_output[prev])
        else:
            bar = groups.mean_output[prev]
        if groups.mean_output[j] > bar:
            front.append(int(j))
    return np.array(front, dtype=np.int64)
