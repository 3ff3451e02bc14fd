"""Power laws over a Pareto front, with bootstrap confidence intervals and extrapolation checks.

* :func:`fit_power_law`: ``T(h) = intercept + slope * log10(C)`` where ``T`` is the value's
  basic space: ``"log"`` (``log10 h``, i.e. ``h = k C^exponent``), ``"linear"`` (``h`` itself)
  or ``"logit"`` (``log10(h / (1 - h))``, for fractions in (0, 1)).
* :func:`fit_power_laws`: many value columns against the same costs at once.

The saturating law ``L(C) = E + A C^-alpha`` of a front's output is in :mod:`scaling.saturating`.
Both return dataclasses with ``predict(costs)`` (value, interval, decades of extrapolation)
and ``to_dict()``; intervals come from a bootstrap over the fitted points.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from scaling.bootstrap import bootstrap_counts, interval_percentiles
from scaling.fits import FitError, check_costs, extrapolation_decades, warn_if_far
from tays.spaces import NUMERIC_KINDS as SPACES
from tays.spaces import forward, inverse

BasicSpace = Literal["log", "linear", "logit"]

logger = logging.getLogger(__name__)

__all__ = ["SPACES", "PowerLawFit", "fit_power_law",
           "fit_power_laws"]


@dataclass
class PowerLawFit:
    """``T(h) = intercept + slope * log10(C)`` in the value's basic space ``space``."""

    space: str
    intercept: float
    slope: float
    n_points: int
    cost_min: float
    cost_max: float
    residual_std: float
    level: float = 0.95
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    samples: np.ndarray = field(default_factory=lambda: np.empty((0, 2)), repr=False)
    r_squared: float = float("nan")
    """Share of the variance of ``T(h)`` the line explains (the strength of the trend)."""

    @property
    def params(self) -> dict[str, float]:
        """``{"k", "exponent"}`` in log space (h = k C^exponent), else ``{"intercept", "slope"}``."""
        if self.space == "log":
            return {"k": 10.0 ** self.intercept, "exponent": self.slope}
        return {"intercept": self.intercept, "slope": self.slope}

    def _sample_params(self) -> dict[str, np.ndarray]:
        if self.space == "log":
            return {"k": 10.0 ** self.samples[:, 0], "exponent": self.samples[:, 1]}
        return {"intercept": self.samples[:, 0], "slope": self.samples[:, 1]}

    def predict(self, cost, level: float | None = None, warn_decades: float = 1.0) -> pd.DataFrame:
        """Predicted value at ``cost`` with a bootstrap interval and the extrapolation distance.

        Columns: cost, value, low, high, extrapolation_decades. Warns when any cost is more
        than ``warn_decades`` decades outside the fitted range.
        """
        cost = check_costs(np.atleast_1d(cost), "cost")
        level = self.level if level is None else level
        x = np.log10(cost)
        value = inverse(self.space, self.intercept + self.slope * x)
        if len(self.samples):
            t = self.samples[:, :1] + self.samples[:, 1:2] * x[None, :]
            lo, hi = np.percentile(inverse(self.space, t), interval_percentiles(level), axis=0)
        else:
            lo = hi = np.full_like(value, np.nan)
        dec = extrapolation_decades(cost, self.cost_min, self.cost_max)
        warn_if_far(dec, warn_decades, f"power law ({self.space})")
        return pd.DataFrame({"cost": cost, "value": value, "low": lo, "high": hi,
                             "extrapolation_decades": dec})

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {"space": self.space, "params": self.params,
                "ci": {k: list(v) for k, v in self.ci.items()}, "n_points": self.n_points,
                "cost_min": self.cost_min, "cost_max": self.cost_max,
                "residual_std": self.residual_std, "r_squared": self.r_squared,
                "level": self.level}


def _check_values(space: str, value: np.ndarray, name: str) -> None:
    if space == "log" and np.any(value <= 0):
        raise FitError(f"{name}: a log-space power law needs positive values; use space='linear'.")
    if space == "logit" and np.any((value <= 0) | (value >= 1)):
        raise FitError(f"{name}: a logit-space power law needs values in (0, 1); use "
                       f"space='linear'.")


def _percentiles(samples: np.ndarray, q: list[float]) -> np.ndarray:
    """Column-wise percentiles ignoring NaN (np.nanpercentile loops over columns; the plain
    one is vectorised, so use it when there is no NaN)."""
    if np.isnan(samples).any():
        with warnings.catch_warnings():  # an all-NaN column gives NaN bounds (dropped later)
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanpercentile(samples, q, axis=0)
    return np.percentile(samples, q, axis=0)


def _line_fits(x: np.ndarray, t: np.ndarray, n_bootstrap: int, seed: int):
    """Least-squares lines ``t[:, j] = intercept_j + slope_j * x`` for every column of ``t``.

    Returns intercepts, slopes, residual std, R^2 (each of shape (P,)) and the bootstrap
    samples, shape (B, P, 2) (intercept, slope). Every column shares one set of bootstrap
    weights (the same draws a one-column fit with this seed makes).
    """
    n = len(x)
    mx = x.mean()
    dx = x - mx
    sxx = float(dx @ dx)
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: caught as non-finite fits
        mt = t.mean(axis=0)
        dt = t - mt
        slope = (dx @ dt) / sxx
        intercept = mt - slope * mx
        resid = dt - np.outer(dx, slope)
        # sums of squares on a per-column scale, so huge (but finite) values do not overflow
        scale = np.max(np.abs(dt), axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        ss_res = np.sum((resid / scale) ** 2, axis=0)
        ss_tot = np.sum((dt / scale) ** 2, axis=0)
        residual_std = scale * np.sqrt(ss_res / max(n - 2, 1))
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.nan)
    samples = np.empty((0, t.shape[1], 2))
    if n_bootstrap > 0:
        w = bootstrap_counts(np.random.default_rng(seed), n, n_bootstrap)
        sw = w.sum(1)
        bx = w @ x / sw
        bsxx = w @ (x * x) / sw - bx * bx
        good = bsxx > 1e-12 * max(1.0, float(np.var(x)))
        w, sw, bx, bsxx = w[good], sw[good], bx[good], bsxx[good]
        with np.errstate(over="ignore", invalid="ignore"):
            bt = (w @ t) / sw[:, None]
            bsxt = (w @ (x[:, None] * t)) / sw[:, None] - bx[:, None] * bt
            b1 = bsxt / bsxx[:, None]
            samples = np.stack([bt - b1 * bx[:, None], b1], axis=-1)
    return intercept, slope, residual_std, r2, samples


def fit_power_laws(
    cost,
    values: dict[str, np.ndarray],
    spaces: dict[str, str] | str = "log",
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    min_points: int = 3,
) -> dict[str, PowerLawFit | FitError]:
    """:func:`fit_power_law` of many value columns against the same costs at once.

    The bootstrap draws are shared (and equal to those of a one-column fit with this seed), so
    each fit equals its :func:`fit_power_law`; thousands of columns take a fraction of a second.

    Args:
        cost: positive costs of the points (shared by every column).
        values: name -> values (same length as ``cost``).
        spaces: one space for all, or name -> space (``"log"``, ``"linear"``, ``"logit"``).

    Returns:
        name -> :class:`PowerLawFit`, or the :class:`FitError` saying why that column cannot
        be fitted (bad values for its space, or a fit that is not finite).
    """
    cost = check_costs(cost, "cost")
    if len(cost) < min_points or len(np.unique(cost)) < 2:
        raise FitError(f"too few points to fit a power law: {len(cost)} point(s) with "
                       f"{len(np.unique(cost))} distinct cost(s); need at least {min_points} "
                       f"points at 2+ costs (run more configurations along the front).")
    results: dict[str, PowerLawFit | FitError] = {}
    by_space: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name, value in values.items():
        space = spaces if isinstance(spaces, str) else spaces.get(name, "log")
        if space not in SPACES:
            raise ValueError(f"space={space!r} ({name}): use one of {SPACES}.")
        value = np.asarray(value, dtype=float)
        try:
            _check_column(cost, space, value, name)
        except FitError as err:
            results[name] = err
            continue
        by_space.setdefault(space, []).append((name, value))
    for space, items in by_space.items():
        results.update(_fit_space(cost, space, items, n_bootstrap, level, seed))
    return {name: results[name] for name in values}


def _check_column(cost: np.ndarray, space: str, value: np.ndarray, name: str) -> None:
    """Raise the FitError that keeps one column out of :func:`fit_power_laws`."""
    if cost.shape != value.shape:
        raise FitError(f"{name}: cost and value lengths differ ({cost.shape} vs "
                       f"{value.shape}).")
    if not np.all(np.isfinite(value)):
        raise FitError(f"{name}: non-finite values; drop those rows first.")
    _check_values(space, value, name)


def _fit_space(cost: np.ndarray, space: str, items: list[tuple[str, np.ndarray]],
               n_bootstrap: int, level: float, seed: int) -> dict[str, PowerLawFit | FitError]:
    """The laws of the columns ``items`` (name, values) in one basic space, all at once."""
    x = np.log10(cost)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        t = np.column_stack([forward(space, v) for _, v in items])
    icpt, slope, rstd, r2, samples = _line_fits(x, t, n_bootstrap, seed)
    bounds = None
    if n_bootstrap > 0 and samples.shape[0]:
        with np.errstate(over="ignore", invalid="ignore"):
            first = 10.0 ** samples[..., 0] if space == "log" else samples[..., 0]
            q = interval_percentiles(level)
            bounds = (_percentiles(first, q), _percentiles(samples[..., 1], q))  # (2, P)
    results: dict[str, PowerLawFit | FitError] = {}
    for j, (name, value) in enumerate(items):
        fit = PowerLawFit(space=space, intercept=float(icpt[j]), slope=float(slope[j]),
                          n_points=len(x), cost_min=float(cost.min()),
                          cost_max=float(cost.max()), residual_std=float(rstd[j]),
                          level=level, r_squared=float(r2[j]))
        with np.errstate(over="ignore"):
            finite = all(np.isfinite(v) for v in fit.params.values())
        if not finite:
            results[name] = FitError(
                f"{name}: the fitted law is not finite (values from {value.min():.3g} to "
                f"{value.max():.3g} overflow in {space} space); rescale the column or fit "
                f"it in another space.")
            continue
        if n_bootstrap > 0:
            fit.samples = samples[:, j, :]
            keys = list(fit.params)
            fit.ci = ({keys[0]: (float(bounds[0][0, j]), float(bounds[0][1, j])),
                       keys[1]: (float(bounds[1][0, j]), float(bounds[1][1, j]))}
                      if bounds is not None else {k: (math.nan, math.nan) for k in keys})
        results[name] = fit
    return results


def fit_power_law(
    cost,
    value,
    space: BasicSpace = "log",
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    min_points: int = 3,
) -> PowerLawFit:
    """Fit ``T(value) = intercept + slope * log10(cost)`` by least squares, with bootstrap CIs.

    Args:
        cost: positive costs (e.g. FLOPs) of the front's points.
        value: the fitted quantity (a hyperparameter, N_opt, ...), in param space.
        space: ``"log"`` (value > 0; h = k C^e), ``"linear"`` or ``"logit"`` (0 < value < 1).
        n_bootstrap: resamples of the points (0: no intervals).
        level: confidence level of the intervals.
        seed: RNG seed of the bootstrap.
        min_points: fewest points accepted (at least 2 distinct costs are always needed).

    Raises:
        FitError: too few points, values outside the space, or a fit that is not finite.
    """
    if space not in SPACES:
        raise ValueError(f"space={space!r}: use one of {SPACES}.")
    cost = check_costs(cost, "cost")
    value = np.asarray(value, dtype=float)
    if cost.shape != value.shape:
        raise FitError(f"cost and value lengths differ ({cost.shape} vs {value.shape}).")
    result = fit_power_laws(cost, {"value": value}, space, n_bootstrap, level, seed,
                            min_points)["value"]
    if isinstance(result, FitError):
        raise result
    return result
