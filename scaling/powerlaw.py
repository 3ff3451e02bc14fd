"""Power laws over a Pareto front, with bootstrap confidence intervals and extrapolation checks.

* :func:`fit_power_law`: ``T(h) = intercept + slope * log10(C)`` where ``T`` is the value's
  basic space: ``"log"`` (``log10 h``, i.e. ``h = k C^exponent``), ``"linear"`` (``h`` itself)
  or ``"logit"`` (``log10(h / (1 - h))``, for fractions in (0, 1)).
* :func:`fit_saturating`: ``L(C) = E + A C^-alpha``, fitted in log space (least squares on
  ``log L``).

Both return dataclasses with ``predict(costs)`` (value, interval, decades of extrapolation)
and ``to_dict()``; intervals come from a bootstrap over the fitted points.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

logger = logging.getLogger(__name__)

Space = Literal["log", "linear", "logit"]
SPACES = ("log", "linear", "logit")


class FitError(ValueError):
    """The data cannot support the requested fit (too few points, bad values ...)."""


def _forward(space: str, y: np.ndarray) -> np.ndarray:
    if space == "log":
        return np.log10(y)
    if space == "logit":
        return np.log10(y / (1.0 - y))
    return np.asarray(y, dtype=float)


def _inverse(space: str, t: np.ndarray) -> np.ndarray:
    if space == "log":
        return 10.0 ** t
    if space == "logit":
        return 1.0 / (1.0 + 10.0 ** (-t))
    return t


def _check_costs(cost: np.ndarray, name: str) -> np.ndarray:
    cost = np.asarray(cost, dtype=float)
    if not np.all(np.isfinite(cost)):
        raise FitError(f"{name} has non-finite values; drop those rows before fitting.")
    if np.any(cost <= 0):
        raise FitError(f"{name} has non-positive values; costs must be > 0 for log-scale fits "
                       f"(drop those rows or choose another cost column).")
    return cost


def extrapolation_decades(cost: np.ndarray, cost_min: float, cost_max: float) -> np.ndarray:
    """How many decades each cost lies outside [cost_min, cost_max] (0 inside)."""
    lc = np.log10(np.asarray(cost, dtype=float))
    return np.maximum(0.0, np.maximum(lc - np.log10(cost_max), np.log10(cost_min) - lc))


def _warn_far(decades: np.ndarray, warn_decades: float, what: str) -> None:
    far = float(np.max(decades, initial=0.0))
    if far > warn_decades:
        msg = (f"{what}: predicting {far:.2f} decades outside the fitted cost range "
               f"(warning threshold {warn_decades}); treat the interval as optimistic.")
        warnings.warn(msg, UserWarning, stacklevel=3)


def _percentile_ci(samples: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.nanpercentile(samples, [50 * (1 - level), 50 * (1 + level)], axis=0)
    return float(lo), float(hi)


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
        cost = _check_costs(np.atleast_1d(cost), "cost")
        level = self.level if level is None else level
        x = np.log10(cost)
        value = _inverse(self.space, self.intercept + self.slope * x)
        if len(self.samples):
            t = self.samples[:, :1] + self.samples[:, 1:2] * x[None, :]
            lo, hi = np.percentile(_inverse(self.space, t), [50 * (1 - level), 50 * (1 + level)],
                                   axis=0)
        else:
            lo = hi = np.full_like(value, np.nan)
        dec = extrapolation_decades(cost, self.cost_min, self.cost_max)
        _warn_far(dec, warn_decades, f"power law ({self.space})")
        return pd.DataFrame({"cost": cost, "value": value, "low": lo, "high": hi,
                             "extrapolation_decades": dec})

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {"space": self.space, "params": self.params,
                "ci": {k: list(v) for k, v in self.ci.items()}, "n_points": self.n_points,
                "cost_min": self.cost_min, "cost_max": self.cost_max,
                "residual_std": self.residual_std, "level": self.level}


def _bootstrap_counts(rng, n: int, n_resamples: int) -> np.ndarray:
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(float)


def fit_power_law(
    cost,
    value,
    space: Space = "log",
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
    """
    if space not in SPACES:
        raise ValueError(f"space={space!r}: use one of {SPACES}.")
    cost = _check_costs(cost, "cost")
    value = np.asarray(value, dtype=float)
    if cost.shape != value.shape:
        raise FitError(f"cost and value lengths differ ({cost.shape} vs {value.shape}).")
    if len(cost) < min_points or len(np.unique(cost)) < 2:
        raise FitError(f"too few points to fit a power law: {len(cost)} point(s) with "
                       f"{len(np.unique(cost))} distinct cost(s); need at least {min_points} "
                       f"points at 2+ costs (run more configurations along the front).")
    if space == "log" and np.any(value <= 0):
        raise FitError("log-space power law needs positive values; use space='linear'.")
    if space == "logit" and np.any((value <= 0) | (value >= 1)):
        raise FitError("logit-space power law needs values in (0, 1); use space='linear'.")
    x, t = np.log10(cost), _forward(space, value)
    slope, intercept = np.polyfit(x, t, 1)
    resid = t - (intercept + slope * x)
    dof = max(len(x) - 2, 1)
    fit = PowerLawFit(space=space, intercept=float(intercept), slope=float(slope),
                      n_points=len(x), cost_min=float(cost.min()), cost_max=float(cost.max()),
                      residual_std=float(np.sqrt(np.sum(resid ** 2) / dof)), level=level)
    if n_bootstrap > 0:
        w = _bootstrap_counts(np.random.default_rng(seed), len(x), n_bootstrap)
        sw = w.sum(1)
        mx, mt = w @ x / sw, w @ t / sw
        sxx = w @ (x * x) / sw - mx * mx
        sxt = w @ (x * t) / sw - mx * mt
        good = sxx > 1e-12 * max(1.0, float(np.var(x)))
        b1 = sxt[good] / sxx[good]
        fit.samples = np.column_stack([mt[good] - b1 * mx[good], b1])
        fit.ci = {k: _percentile_ci(v, level) for k, v in fit._sample_params().items()}
    return fit


@dataclass
class SaturatingFit:
    """``L(C) = E + A C^-alpha`` fitted on log L."""

    E: float
    A: float
    alpha: float
    n_points: int
    cost_min: float
    cost_max: float
    rmse_log: float
    level: float = 0.95
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    samples: np.ndarray = field(default_factory=lambda: np.empty((0, 3)), repr=False)

    @property
    def params(self) -> dict[str, float]:
        """``{"E", "A", "alpha"}``."""
        return {"E": self.E, "A": self.A, "alpha": self.alpha}

    def __call__(self, cost) -> np.ndarray:
        """L(C) at the point estimate."""
        return self.E + self.A * np.asarray(cost, dtype=float) ** (-self.alpha)

    def predict(self, cost, level: float | None = None, warn_decades: float = 1.0) -> pd.DataFrame:
        """Predicted loss at ``cost`` with a bootstrap interval and extrapolation distance."""
        cost = _check_costs(np.atleast_1d(cost), "cost")
        level = self.level if level is None else level
        value = self(cost)
        if len(self.samples):
            s = self.samples
            curves = s[:, :1] + s[:, 1:2] * cost[None, :] ** (-s[:, 2:3])
            lo, hi = np.percentile(curves, [50 * (1 - level), 50 * (1 + level)], axis=0)
        else:
            lo = hi = np.full_like(value, np.nan)
        dec = extrapolation_decades(cost, self.cost_min, self.cost_max)
        _warn_far(dec, warn_decades, "saturating law")
        return pd.DataFrame({"cost": cost, "value": value, "low": lo, "high": hi,
                             "extrapolation_decades": dec})

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {"params": self.params, "ci": {k: list(v) for k, v in self.ci.items()},
                "n_points": self.n_points, "cost_min": self.cost_min,
                "cost_max": self.cost_max, "rmse_log": self.rmse_log, "level": self.level}


def _sat_residuals(theta, x, y, w):
    a, e, alpha = theta
    return w * (y - np.logaddexp(a - alpha * x, e))


def _sat_jac(theta, x, y, w):
    a, e, alpha = theta
    u1 = a - alpha * x
    p1 = np.exp(u1 - np.logaddexp(u1, e))
    return -w[:, None] * np.column_stack([p1, 1.0 - p1, -p1 * x])


def _sat_solve(x, y, w, starts):
    best = None
    for s in starts:
        res = least_squares(_sat_residuals, s, jac=_sat_jac, args=(x, y, w),
                            bounds=([-np.inf, -np.inf, 0.0], [np.inf, np.inf, 10.0]),
                            method="trf", x_scale="jac")
        if best is None or res.cost < best.cost:
            best = res
    return best


def fit_saturating(
    cost,
    loss,
    n_bootstrap: int = 500,
    level: float = 0.95,
    seed: int = 0,
    min_points: int = 4,
    progress: bool = False,
) -> SaturatingFit:
    """Fit ``L(C) = E + A C^-alpha`` by least squares on ``log L`` (multi-start), with bootstrap CIs.

    Internally ``log L = logaddexp(a - alpha x, e)`` with ``x = ln(C / C_ref)`` (``C_ref`` the
    geometric mean cost), so all parameters are of order one; ``E = e^e``,
    ``A = e^a C_ref^alpha``.
    """
    cost = _check_costs(cost, "cost")
    loss = np.asarray(loss, dtype=float)
    if len(cost) < min_points or len(np.unique(cost)) < 3:
        raise FitError(f"too few points for a saturating law: {len(cost)} point(s); need at "
                       f"least {min_points} at 3+ distinct costs (extend the front).")
    if np.any(~np.isfinite(loss)) or np.any(loss <= 0):
        raise FitError("saturating law needs positive finite outputs (it is fitted on log L); "
                       "fit a plain power law with space='linear' instead.")
    c_ref = float(np.exp(np.mean(np.log(cost))))
    x, y = np.log(cost / c_ref), np.log(loss)
    lmin = float(loss.min())
    starts = [(np.log(max(np.mean(loss) - f * lmin, 1e-3 * lmin)), np.log(f * lmin), al)
              for f in (0.01, 0.5, 0.9) for al in (0.05, 0.2, 0.5, 1.0)]
    res = _sat_solve(x, y, np.ones_like(x), starts)
    a, e, alpha = res.x
    rmse = float(np.sqrt(np.mean(res.fun ** 2)))
    fit = SaturatingFit(E=float(np.exp(e)), A=float(np.exp(a) * c_ref ** alpha),
                        alpha=float(alpha), n_points=len(x), cost_min=float(cost.min()),
                        cost_max=float(cost.max()), rmse_log=rmse, level=level)
    if n_bootstrap > 0:
        from tqdm.auto import tqdm

        rng = np.random.default_rng(seed)
        samples = []
        for _ in tqdm(range(n_bootstrap), desc="saturating bootstrap", disable=not progress,
                      leave=False):
            w = np.sqrt(rng.multinomial(len(x), np.full(len(x), 1.0 / len(x))).astype(float))
            if np.count_nonzero(w) < 3:
                continue
            r = _sat_solve(x, y, w, [res.x])
            sa, se, sal = r.x
            samples.append((np.exp(se), np.exp(sa) * c_ref ** sal, sal))
        fit.samples = np.asarray(samples).reshape(-1, 3)
        fit.ci = {k: _percentile_ci(fit.samples[:, i], level)
                  for i, k in enumerate(("E", "A", "alpha"))}
    return fit
