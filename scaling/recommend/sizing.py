"""Which hyperparameters set a run's size (N), its tokens (D) or its cost, and how to hit a target.

The recommendation must spend its budget: with ``metric.params`` (N) and ``metric.tokens`` (D)
in the table, the recommended configuration must have 6 N D = C. ``scaling`` does not know a
recipe's formulas, so it learns them from the sweep's own trials: parameter counts are
polynomials in width and depth with small integer exponents (a GPT: 12 L d^2 + V d + ...), and
tokens are a parameter or a product of parameters. :func:`fit_count_model` finds the smallest
set of numeric parameters whose polynomial (non-negative coefficients, exponents 0..2 each)
reproduces the target within 1% on every trial; failing that, a log-linear law (a power of
each parameter), flagged as approximate.

:func:`solve_for` moves those parameters from their per-parameter laws' values, jointly along
the direction in which the front grows them, until the model hits the target; then picks the
integer-grid neighbour closest to the target.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, nnls

from scaling.recommend.space import grid_neighbours, round_value
from tays import Param

logger = logging.getLogger(__name__)

#: Largest relative error of an "exact" count model over the trials.
EXACT_RTOL = 0.01


@dataclass
class CountModel:
    """``target ~= sum_k coef_k prod_i h_i^p_ki`` over parameters ``names`` (``polynomial``),
    or ``log target = c + sum_i p_i log h_i`` (``loglinear``, approximate)."""

    target: str
    names: tuple[str, ...]
    exponents: np.ndarray
    coefs: np.ndarray
    kind: str
    max_rel_error: float
    n_rows: int

    def __call__(self, values: Mapping[str, float]) -> float:
        h = np.array([float(values[n]) for n in self.names])
        if self.kind == "loglinear":
            return float(math.exp(self.coefs[0] + float(self.exponents[0] @ np.log(h))))
        return float(self.coefs @ np.prod(h[None, :] ** self.exponents, axis=1))

    @property
    def exact(self) -> bool:
        """True when the model reproduces every trial within :data:`EXACT_RTOL`."""
        return self.kind == "polynomial" and self.max_rel_error <= EXACT_RTOL

    def describe(self) -> str:
        """The formula in words, e.g. ``metric.params = 12 model.n_layers model.d_model^2 +
        4096 model.d_model``."""
        if self.kind == "loglinear":
            powers = " ".join(f"{n}^{p:.3g}" for n, p in zip(self.names, self.exponents[0]))
            return (f"{self.target} ~ {math.exp(self.coefs[0]):.4g} {powers} (log-linear, max "
                    f"error {self.max_rel_error:.1%})")
        terms = []
        for c, row in zip(self.coefs, self.exponents):
            mono = " ".join(n if p == 1 else f"{n}^{int(p)}" for n, p in zip(self.names, row)
                            if p)
            terms.append(f"{c:.4g}" + (f" {mono}" if mono else ""))
        return f"{self.target} = " + " + ".join(terms)


def _loglinear(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    a = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return coef, float(np.max(np.abs(np.expm1(a @ coef - y))))


def _polynomial(h: np.ndarray, target: np.ndarray, max_degree: int):
    """NNLS on relative errors over all monomials with exponents 0..max_degree per column."""
    exps = np.array(list(itertools.product(range(max_degree + 1), repeat=h.shape[1])), float)
    with np.errstate(over="ignore"):
        mono = np.prod(h[:, None, :] ** exps[None, :, :], axis=2)  # (n, K)
    a = mono / target[:, None]
    norm = np.max(np.abs(a), axis=0)
    ok = np.isfinite(norm) & (norm > 0)
    exps, a, norm = exps[ok], a[:, ok], norm[ok]
    coef, _ = nnls(a / norm, np.ones(len(target)), maxiter=50 * a.shape[1])
    coef = coef / norm
    # keep the terms that matter somewhere (> 1e-6 of the target on some row)
    keep = (coef > 0) & (np.max(np.abs(a), axis=0) * coef > 1e-6)
    if not keep.any():
        return None
    exps, coef = exps[keep], coef[keep]
    pred = (h[:, None, :] ** exps[None, :, :]).prod(axis=2) @ coef
    return exps, coef, float(np.max(np.abs(pred / target - 1.0)))


def fit_count_model(values: Mapping[str, np.ndarray], target: np.ndarray, target_name: str,
                    max_params: int = 3, max_degree: int = 2) -> CountModel | None:
    """The smallest set of ``values`` columns whose polynomial reproduces ``target``.

    Only positive, finite, non-constant columns are candidates. A polynomial is accepted when
    it is within :data:`EXACT_RTOL` on every row and leaves at least two rows to spare over its
    number of terms; otherwise the best log-linear law with R^2 >= 0.95 is returned (approximate),
    or None.
    """
    target = np.asarray(target, dtype=float)
    good_rows = np.isfinite(target) & (target > 0)
    cols = {}
    for name, v in values.items():
        v = np.asarray(v, dtype=float)
        if v.shape != target.shape:
            continue
        good_rows &= np.isfinite(v) & (v > 0)
        cols[name] = v
    names = [n for n in cols if np.unique(cols[n][good_rows]).size > 1]
    n = int(good_rows.sum())
    if n < 4 or not names:
        return None
    y = target[good_rows]
    best_ll: tuple[float, tuple, np.ndarray, float] | None = None
    for size in range(1, min(max_params, len(names)) + 1):
        found = None
        for subset in itertools.combinations(names, size):
            h = np.column_stack([cols[s][good_rows] for s in subset])
            res = _polynomial(h, y, max_degree)
            if res is not None and res[2] <= EXACT_RTOL and n >= len(res[1]) + 2 and (
                    found is None or res[2] < found[1][2]):
                found = (subset, res)
            if n >= size + 3:
                coef, err = _loglinear(np.log(h), np.log(y))
                resid = np.log(y) - np.column_stack([np.ones(n), np.log(h)]) @ coef
                r2 = 1.0 - float(resid @ resid) / max(float(np.var(np.log(y)) * n), 1e-300)
                if r2 >= 0.95 and (best_ll is None or err < best_ll[3] * 0.5):
                    best_ll = (r2, subset, coef, err)
        if found is not None:
            subset, (exps, coef, err) = found
            return CountModel(target_name, tuple(subset), exps, coef, "polynomial", err, n)
    if best_ll is None:
        return None
    _, subset, coef, err = best_ll
    return CountModel(target_name, tuple(subset), coef[None, 1:], coef[:1], "loglinear", err, n)


def solve_for(model: CountModel, target: float, start: Mapping[str, float],
              direction: Mapping[str, float], specs: Mapping[str, Param],
              lower: bool = True, upper: bool = False
              ) -> tuple[dict[str, float], float, dict[str, float]]:
    """Values of ``model.names`` that make the model equal ``target``.

    From ``start`` (the per-parameter laws' values), every parameter moves by the same factor
    ``t`` times its ``direction`` weight in log10 (weights < 0 count as 0; all zero: equal
    weights). A parameter that would cross its ``min`` (``lower``) or its ``max`` (``upper``) is
    pinned there and the others move on without it. Integer parameters are then rounded,
    choosing among the grid neighbours (inside the bounds) the combination whose model value
    is closest to ``target`` (in log).

    Returns (rounded values, the model at them, the continuous solution before rounding); the
    model value differs from ``target`` beyond rounding only when every parameter got pinned:
    also when the target is out of the free parameters' reach (the model's other terms alone
    exceed it), where they are pinned at the bound they head for. ``ValueError`` only when that
    bound is unset.
    """
    names = model.names
    lo = {n: specs[n].space.min if lower and n in specs and specs[n].space.min is not None
          else -math.inf for n in names}
    hi = {n: specs[n].space.max if upper and n in specs and specs[n].space.max is not None
          else math.inf for n in names}
    cont = _continuous_solution(model, target, {n: float(start[n]) for n in names}, direction,
                                lo, hi)
    best = _closest_on_grid(model, target, cont, specs, lo, hi)
    return best, model(best), cont


def _continuous_solution(model: CountModel, target: float, base: dict[str, float],
                         direction: Mapping[str, float], lo: dict[str, float],
                         hi: dict[str, float]) -> dict[str, float]:
    """The values before rounding: every free parameter scaled from ``base`` along its
    ``direction`` weight until the model hits ``target``; one that crosses a bound is pinned
    there and the others move on without it."""
    names = model.names
    pinned: dict[str, float] = {}
    for n in names:  # a law value already outside the bounds starts pinned there
        if base[n] < lo[n]:
            pinned[n] = lo[n]
        elif base[n] > hi[n]:
            pinned[n] = hi[n]
    cont = {**base, **pinned}
    while len(pinned) < len(names):
        free = [n for n in names if n not in pinned]
        w = np.array([max(float(direction.get(n, 0.0)), 0.0) for n in free])
        if not np.any(w > 0):
            w = np.ones(len(free))

        def at(t: float, free=free, w=w) -> dict[str, float]:
            return {**pinned, **{n: base[n] * 10.0 ** (t * wi) for n, wi in zip(free, w)}}

        def gap(t: float, at=at) -> float:
            return math.log(model(at(t))) - math.log(target)

        a, b = -1.0, 1.0
        for _ in range(60):  # bracket the root (the model grows with t)
            if gap(a) <= 0 <= gap(b):
                break
            if gap(a) > 0:
                a *= 2.0
            if gap(b) < 0:
                b *= 2.0
        else:
            # out of the free parameters' reach: the model's other terms alone exceed the target
            # (a count model fitted on a few shapes can have a large constant), or it cannot
            # grow that far. Within bounds, the nearest the model gets is with the free
            # parameters at the bound they head for; the caller reports the miss.
            toward = lo if gap(a) > 0 else hi
            if not all(math.isfinite(toward[n]) for n in free):
                raise ValueError(f"cannot reach {model.target} = {target:.4g} by scaling "
                                 f"{', '.join(free)} (model {model.describe()})")
            pinned.update({n: toward[n] for n in free})
            cont = {**cont, **pinned}
            break
        cont = at(brentq(gap, a, b, xtol=1e-12))
        out = {n: lo[n] if cont[n] < lo[n] else hi[n] for n in free
               if not lo[n] <= cont[n] <= hi[n]}
        if not out:
            break
        pinned.update(out)
        cont = {**cont, **pinned}
    return cont


def _closest_on_grid(model: CountModel, target: float, cont: dict[str, float],
                     specs: Mapping[str, Param], lo: dict[str, float],
                     hi: dict[str, float]) -> dict[str, float]:
    """Among the integer-grid neighbours of ``cont`` inside the bounds, the combination whose
    model value is closest to ``target`` (in log)."""
    names = model.names
    choices = []
    for n in names:
        opts = grid_neighbours(specs[n], cont[n]) if n in specs else [cont[n]]
        inside = [v for v in opts if lo[n] <= v <= hi[n]]
        choices.append(inside or [round_value(specs[n], min(max(cont[n], lo[n]), hi[n]))
                                  if n in specs else cont[n]])
    best, best_err = None, math.inf
    for combo in itertools.product(*choices):
        vals = dict(zip(names, combo))
        err = abs(math.log(model(vals)) - math.log(target))
        if err < best_err:
            best, best_err = vals, err
    return best
