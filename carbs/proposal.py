"""The proposal distribution of CARBS and its density, in basic space.

Candidates are drawn around *origins* (Pareto groups, or the search center during start-up):

- numeric columns: origin + Normal(0, radius), one draw per column;
- categorical blocks (one-hot): the origin's category is kept with probability ``1 - p`` and
  otherwise redrawn uniformly among the other ``k - 1`` choices (``p`` is the space's
  ``mutation_probability``).

:func:`log_search_density` is the log density of that same distribution, maximised over the
origins (the acquisition's *search density*), so candidates and their weights always agree.
:func:`draw_candidates` draws, rounds (integers, one-hot) and filters (bounds, rows already
outstanding) until it has enough.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from carbs.encoder import ParamEncoder

__all__ = [
    "draw_candidates",
    "log_search_density",
    "mutate",
    "nearby_best_group",
    "rows_in",
    "stratified_origin_weights",
]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

CategoricalBlocks = list[tuple[slice, float]]


def mutate(rng: np.random.Generator, origins: np.ndarray, radius: float,
           numeric_cols: np.ndarray, categorical_blocks: CategoricalBlocks) -> np.ndarray:
    """One draw of the proposal around each row of ``origins`` (not rounded, not filtered)."""
    cand = np.array(origins, dtype=np.float64, copy=True)
    cand[:, numeric_cols] += rng.normal(0.0, radius, size=(len(cand), len(numeric_cols)))
    for sl, p in categorical_blocks:
        k = sl.stop - sl.start
        cur = np.argmax(cand[:, sl], axis=1)
        flip = rng.uniform(size=len(cand)) < p
        shift = rng.integers(1, k, size=len(cand))
        new = np.where(flip, (cur + shift) % k, cur)
        block = np.zeros((len(cand), k))
        block[np.arange(len(cand)), new] = 1.0
        cand[:, sl] = block
    return cand


def log_search_density(candidates: np.ndarray, origins: np.ndarray, radius: float,
                       numeric_cols: np.ndarray,
                       categorical_blocks: CategoricalBlocks) -> np.ndarray:
    """Largest, over the origins, of the log density of drawing each candidate from that origin.

    Numeric columns: Normal(0, radius) per basic column. Categorical blocks: log(1 - p) when
    the candidate keeps the origin's category, else log(p / (k - 1)).
    """
    cand = np.asarray(candidates, dtype=np.float64)
    orig = np.asarray(origins, dtype=np.float64)
    best = np.full(len(cand), -np.inf)
    nd = len(numeric_cols)
    const = -nd * (math.log(radius) + _LOG_SQRT_2PI)
    cn = cand[:, numeric_cols]
    cat_idx_c = [np.argmax(cand[:, sl], axis=1) for sl, _ in categorical_blocks]
    for o in orig:
        d = cn - o[numeric_cols]
        ld = const - 0.5 * np.sum(d * d, axis=1) / (radius * radius)
        for (sl, p), ci in zip(categorical_blocks, cat_idx_c):
            k = sl.stop - sl.start
            same = ci == int(np.argmax(o[sl]))
            ld = ld + np.where(same, math.log(1 - p), math.log(p / (k - 1)))
        best = np.maximum(best, ld)
    return best


def draw_candidates(rng: np.random.Generator, encoder: ParamEncoder, origins: np.ndarray,
                    n: int, radius: float, taken: np.ndarray,
                    weights: np.ndarray | None = None) -> np.ndarray:
    """Up to ``n`` valid candidates (rounded, inside the bounds, not in ``taken``), each drawn
    around an origin picked at random (uniformly, or with probabilities ``weights``). Draws
    extra rows to make up for rejections, at most 20 rounds; may return fewer than ``n``."""
    num, blocks = encoder.numeric_columns(), encoder.categorical_blocks()
    got: list[np.ndarray] = []
    total = 0
    for _ in range(20):
        m = max(int(1.5 * (n - total)), 16)
        idx = (rng.integers(0, len(origins), size=m) if weights is None
               else rng.choice(len(origins), size=m, p=weights))
        cand, valid = encoder.round_basic(mutate(rng, origins[idx], radius, num, blocks))
        cand = cand[valid & ~rows_in(cand, taken)]
        got.append(cand)
        total += len(cand)
        if total >= n:
            break
    return np.concatenate(got)[:n]


def stratified_origin_weights(origin_log_costs: np.ndarray, n_search: int,
                              target: float) -> np.ndarray:
    """Draw probabilities of the origins of a cost-stratified suggestion: half spread evenly
    over the first ``n_search`` origins (the search front, as the reference draws them), half
    on the origin whose log-cost is nearest ``target`` (it may be one of the cheap-end groups
    listed after the search front)."""
    w = np.zeros(len(origin_log_costs))
    w[:n_search] = 0.5 / n_search
    w[int(np.argmin(np.abs(np.asarray(origin_log_costs) - target)))] += 0.5
    return w


def nearby_best_group(group_log_costs: np.ndarray, group_outputs: np.ndarray,
                      target: float) -> int:
    """The best group (largest signed mean output) among those whose log-cost is near
    ``target``: within half a decade of it, or within a factor of 2 beyond the nearest group
    when none is that near (the origin of a cost-stratified suggestion with
    ``cost_target_origin="nearby"``)."""
    d = np.abs(np.asarray(group_log_costs, dtype=np.float64) - target)
    near = np.flatnonzero(d <= max(float(d.min()) + math.log(2.0), 0.5 * math.log(10.0)))
    return int(near[np.argmax(np.asarray(group_outputs, dtype=np.float64)[near])])


def rows_in(rows: np.ndarray, table: np.ndarray, decimals: int = 9) -> np.ndarray:
    """For each row, whether an identical row (after rounding) is in ``table``."""
    if len(table) == 0 or len(rows) == 0:
        return np.zeros(len(rows), dtype=bool)
    a = np.round(rows, decimals)
    b = np.round(table, decimals)
    return (np.abs(a[:, None, :] - b[None, :, :]).max(axis=2) == 0).any(axis=1)
