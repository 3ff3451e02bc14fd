"""Fit diagnostics: warnings that name the cause, for ``scaling report`` and ``scaling recommend``.

Pure functions over fitted numbers; each returns a list of :class:`Diagnostic` (empty when all
is well), so callers decide whether to log them, print them or put them in a summary:

* :func:`grid_edge` / :func:`approach3_grid_edge`: a parametric fit whose optimum sits at (or
  beyond) the edge of its start grid: the grid did not bracket the optimum, which usually means
  a degenerate fit (e.g. a table mixing two loss definitions gives Approach 3 alpha = 2.7);
* :func:`collapsed_intervals`: a bootstrap interval of zero width: every resample returned the
  same value, so the fit is stuck (a flat or boundary optimum), not precise;
* :func:`sparse_front`: too few Pareto-front points per decade of cost for a law to be trusted;
* :func:`far_extrapolation`: a budget more than ``max_decades`` decades beyond the data;
* :func:`outliers`: values a law was fitted to that lie far from the rest (a sentinel such as
  1.7e308, a unit mix-up): the law follows them.

:func:`check_fit` runs the checks that apply to any fit object of :mod:`scaling`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Diagnostic",
    "approach3_grid_edge",
    "check_fit",
    "collapsed_intervals",
    "far_extrapolation",
    "grid_edge",
    "log_diagnostics",
    "outliers",
    "sparse_front",
]

#: Fewest Pareto-front points per decade of cost before :func:`sparse_front` warns.
MIN_POINTS_PER_DECADE = 2.0
#: Decades beyond the data after which :func:`far_extrapolation` warns.
MAX_EXTRAPOLATION_DECADES = 2.0
#: :func:`outliers`: robust z-score (median / MAD in the law's basic space) beyond which a value
#: lies far from the rest, and the least distance (basic units: decades in log space) it needs.
OUTLIER_Z = 10.0
OUTLIER_MIN_DISTANCE = 3.0
#: Magnitude beyond which a value is a sentinel or an overflow, never a measurement.
FLOAT_LIMIT = 1e300


@dataclass(frozen=True)
class Diagnostic:
    """One warning: ``code`` (the cause, machine-readable), ``subject`` (which fit or budget)
    and ``message`` (the cause and what to do, in words)."""

    code: str
    subject: str
    message: str
    name: str = ""
    """The fitted parameter concerned, when there is one (e.g. ``alpha``)."""

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"

    def to_dict(self) -> dict:
        """JSON-ready form."""
        out = {"code": self.code, "subject": self.subject, "message": self.message}
        if self.name:
            out["name"] = self.name
        return out


def grid_edge(subject: str, params: Mapping[str, float],
              bounds: Mapping[str, tuple[float, float]], rtol: float = 0.02) -> list[Diagnostic]:
    """Parameters at or beyond the edge of their start grid ``bounds`` (name -> (low, high)).

    "At the edge" means within ``rtol`` of the grid's width from a boundary, or outside it.
    """
    out = []
    for name, (lo, hi) in bounds.items():
        if name not in params:
            continue
        v = float(params[name])
        if not math.isfinite(v):
            out.append(Diagnostic("grid_edge", subject, f"{name} = {v} is not finite: the fit "
                                  f"failed; check the table for mixed units or outliers.", name))
            continue
        tol = rtol * (hi - lo)
        if lo + tol < v < hi - tol:
            continue
        where = ("beyond" if v > hi or v < lo else "at") + (" the top" if v >= hi - tol
                                                              else " the bottom")
        out.append(Diagnostic(
            "grid_edge", subject,
            f"{name} = {v:.4g} is {where} of its start grid [{lo:g}, {hi:g}]: the grid did not "
            f"bracket the optimum, so the fit is probably degenerate (a table mixing two loss "
            f"definitions or units, too few model sizes, or one size dominating); check the "
            f"data before using this law.", name))
    return out


def approach3_grid_edge(fit, grid: np.ndarray | None = None, rtol: float = 0.02
                        ) -> list[Diagnostic]:
    """:func:`grid_edge` for an :class:`~scaling.chinchilla.Approach3Fit` and its start grid
    (default: the paper's 4,500 starts, see :func:`scaling.parametric.default_grid`)."""
    from scaling.parametric import default_grid

    grid = default_grid() if grid is None else np.asarray(grid, dtype=float)
    names = ("log_A", "log_B", "log_E", "alpha", "beta")  # the grid's column order
    bounds = {n: (float(grid[:, i].min()), float(grid[:, i].max())) for i, n in enumerate(names)}
    bounds = {n: b for n, b in bounds.items() if b[1] > b[0]}
    values = dict(zip(names, map(float, fit.theta)))
    return grid_edge("approach3", values, bounds, rtol)


def collapsed_intervals(subject: str, params: Mapping[str, float],
                        ci: Mapping[str, Iterable[float]], rtol: float = 1e-6
                        ) -> list[Diagnostic]:
    """Bootstrap intervals of (relative) width below ``rtol``: the resamples all agree, which
    means a stuck fit rather than a precise one."""
    out = []
    for name, bounds in ci.items():
        lo, hi = (float(b) for b in bounds)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            continue
        size = max(abs(lo), abs(hi), abs(float(params.get(name, 0.0))), 1e-300)
        if hi - lo <= rtol * size:
            out.append(Diagnostic(
                "collapsed_interval", subject,
                f"the bootstrap interval of {name} collapsed to a point ([{lo:.6g}, {hi:.6g}]): "
                f"every resample returned the same value, so the fit is stuck at a flat or "
                f"boundary optimum, not precise; do not trust this interval.", name))
    return out


def sparse_front(costs, min_per_decade: float = MIN_POINTS_PER_DECADE,
                 subject: str = "pareto front") -> list[Diagnostic]:
    """Too few front points per decade of cost (or a front spanning under a decade)."""
    c = np.asarray(costs, dtype=float)
    c = c[np.isfinite(c) & (c > 0)]
    if len(c) < 2:
        return [Diagnostic("sparse_front", subject, f"only {len(c)} front point(s): no law can "
                           f"be fitted; run more configurations at different costs.")]
    decades = float(np.log10(c.max() / c.min()))
    if decades < 1.0:
        return [Diagnostic("sparse_front", subject,
                           f"the front spans only {decades:.2f} decade(s) of cost "
                           f"({c.min():.3g} to {c.max():.3g}): its laws cannot pin an exponent; "
                           f"sweep over at least one decade of cost.")]
    per_decade = len(c) / decades
    if per_decade < min_per_decade:
        return [Diagnostic("sparse_front", subject,
                           f"{len(c)} front points over {decades:.2f} decades "
                           f"({per_decade:.1f} per decade, want >= {min_per_decade:g}): the laws "
                           f"rest on too few points; run more trials (longer sweep).")]
    return []


def far_extrapolation(budgets, cost_min: float, cost_max: float,
                      max_decades: float = MAX_EXTRAPOLATION_DECADES) -> list[Diagnostic]:
    """Budgets more than ``max_decades`` decades outside [cost_min, cost_max]."""
    out = []
    for b in np.atleast_1d(np.asarray(budgets, dtype=float)):
        beyond = math.log10(b / cost_max) if b > cost_max else math.log10(cost_min / b)
        if beyond > max_decades:
            out.append(Diagnostic(
                "far_extrapolation", f"budget {b:.3g}",
                f"{beyond:.2f} decades beyond the data (costs {cost_min:.3g} to "
                f"{cost_max:.3g}; warning above {max_decades:g}): the intervals are optimistic; "
                f"sweep up to a larger budget first, or recommend in smaller steps."))
    return out


def outliers(subject: str, values, space: str = "log") -> list[Diagnostic]:
    """Values that lie far from the rest in the law's basic ``space`` (``log``, ``logit`` or
    ``linear``): beyond :data:`OUTLIER_Z` robust standard deviations of the median and at least
    :data:`OUTLIER_MIN_DISTANCE` basic units (decades in log space; relative to the median's
    size in linear space) from it, or at the float limit (``|v| > 1e300``)."""
    from tays.spaces import forward

    v = np.asarray(_as_floats(values), dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 3:
        return []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = forward(space, v) if space != "linear" else np.sign(v) * np.log10(1.0 + np.abs(v))
    ok = np.isfinite(t)
    med = float(np.median(t[ok])) if ok.any() else 0.0
    mad = 1.4826 * float(np.median(np.abs(t[ok] - med))) if ok.any() else 0.0
    dist = np.abs(t - med)
    far = ~ok | ((dist > OUTLIER_MIN_DISTANCE) & (dist > OUTLIER_Z * mad))
    far |= np.abs(v) > FLOAT_LIMIT
    if not far.any():
        return []
    examples = ", ".join(f"{x:.3g}" for x in v[far][:3])
    where = (f"the median of the others is {float(np.median(v[~far])):.3g}" if (~far).any()
             else "no value is a plausible measurement")
    return [Diagnostic(
        "outliers", subject,
        f"{int(far.sum())} of {len(v)} value(s) lie far from the rest or at the float limit "
        f"({examples}; {where}): the law follows them; check those rows (a sentinel such as "
        f"1.7e308, a unit mix-up) and drop them before trusting it.")]


def _as_floats(values) -> np.ndarray:
    """``values`` (a list, array or pandas Series; non-numbers become NaN) as floats."""
    import pandas as pd

    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


def check_fit(subject: str, fit) -> list[Diagnostic]:
    """The checks that apply to a fit of :mod:`scaling` (power law, saturating law, Approach
    1-3): collapsed intervals, and the start grid for Approach 3."""
    from scaling.chinchilla import Approach3Fit

    out = []
    if isinstance(fit, Approach3Fit):
        out += approach3_grid_edge(fit)
    ci = fit.ci if isinstance(fit.ci, Mapping) else {}
    if not _exact(fit):  # a law the data follow exactly has a zero-width interval by rights
        out += collapsed_intervals(subject, fit.params, ci)
    return out


def _exact(fit) -> bool:
    """True when the fit reproduces its points exactly (a deterministic relation, e.g. a
    parameter that is the cost itself)."""
    for fitted in (getattr(fit, "n_fit", None), getattr(fit, "d_fit", None)):
        if fitted is not None and not _exact(fitted):
            return False
    if hasattr(fit, "n_fit"):
        return True
    if hasattr(fit, "residual_std"):
        scale = max(abs(fit.intercept), abs(fit.slope), 1e-300)
        return fit.residual_std <= 1e-9 * scale
    if hasattr(fit, "rmse_log"):
        return fit.rmse_log <= 1e-9
    return False


def log_diagnostics(diagnostics: Iterable[Diagnostic], logger: logging.Logger) -> None:
    """Log each diagnostic as a WARNING."""
    for d in diagnostics:
        logger.warning("%s", d)
