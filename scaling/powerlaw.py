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
import math
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
                "residual_std": self.residual_std, "r_squared": self.r_squared,
                "level": self.level}


def _bootstrap_counts(rng, n: int, n_resamples: int) -> np.ndarray:
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(float)


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
        w = _bootstrap_counts(np.random.default_rng(seed), n, n_bootstrap)
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
    cost = _check_costs(cost, "cost")
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
        if cost.shape != value.shape:
            results[name] = FitError(f"{name}: cost and value lengths differ ({cost.shape} vs "
                                     f"{value.shape}).")
            continue
        if not np.all(np.isfinite(value)):
            results[name] = FitError(f"{name}: non-finite values; drop those rows first.")
            continue
        try:
            _check_values(space, value, name)
        except FitError as err:
            results[name] = err
            continue
        by_space.setdefault(space, []).append((name, value))
    x = np.log10(cost)
    for space, items in by_space.items():
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            t = np.column_stack([_forward(space, v) for _, v in items])
        icpt, slope, rstd, r2, samples = _line_fits(x, t, n_bootstrap, seed)
        bounds = None
        if n_bootstrap > 0 and samples.shape[0]:
            with np.errstate(over="ignore", invalid="ignore"):
                first = 10.0 ** samples[..., 0] if space == "log" else samples[..., 0]
                q = [50 * (1 - level), 50 * (1 + level)]
                bounds = (_percentiles(first, q), _percentiles(samples[..., 1], q))  # (2, P)
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
    return {name: results[name] for name in values}


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

    Raises:
        FitError: too few points, values outside the space, or a fit that is not finite.
    """
    if space not in SPACES:
        raise ValueError(f"space={space!r}: use one of {SPACES}.")
    cost = _check_costs(cost, "cost")
    value = np.asarray(value, dtype=float)
    if cost.shape != value.shape:
        raise FitError(f"cost and value lengths differ ({cost.shape} vs {value.shape}).")
    result = fit_power_laws(cost, {"value": value}, space, n_bootstrap, level, seed,
                            min_points)["value"]
    if isinstance(result, FitError):
        raise result
    return result


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


_SAT_LOWER = np.array([-np.inf, -np.inf, 0.0])
_SAT_UPPER = np.array([np.inf, np.inf, 10.0])


def _sat_batch_residuals(theta, x, y, w):
    """Residuals (B, n) and Jacobians (B, n, 3) of many parameter vectors / weightings."""
    u1 = theta[:, :1] - theta[:, 2:3] * x
    lse = np.logaddexp(u1, theta[:, 1:2])
    p1 = np.exp(u1 - lse)
    r = w * (y - lse)
    jac = -w[..., None] * np.stack([p1, 1.0 - p1, -p1 * x], axis=-1)
    return r, jac


def _sat_solve_batch(x, y, w, theta0, max_iter: int = 300, rtol: float = 1e-12):
    """Weighted least squares of the saturating law for every row of ``w`` at once (bootstrap).

    A projected Levenberg-Marquardt iteration (Marquardt's diagonal scaling; ``alpha`` kept in
    [0, 10], held at a bound while the gradient pushes outwards) started from ``theta0`` for
    all rows. Rows it cannot settle (ill-posed resamples) are finished one by one with
    ``least_squares`` from where the batch left them, so every row ends at a local optimum at
    least as good as the one-at-a-time solver's from ``theta0``.
    """
    b = w.shape[0]
    theta = np.tile(np.asarray(theta0, dtype=float), (b, 1))
    r, jac = _sat_batch_residuals(theta, x, y, w)
    cost = 0.5 * np.sum(r * r, axis=1)
    lam = np.full(b, 1e-3)
    active = np.ones(b, dtype=bool)
    settled = np.zeros(b, dtype=bool)
    eye = np.eye(3)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        ja, ra, th = jac[idx], r[idx], theta[idx]
        g = np.einsum("bni,bn->bi", ja, ra)
        h = np.einsum("bni,bnj->bij", ja, ja)
        # alpha at a bound with the descent direction pointing out: keep it there
        held = ((th[:, 2] <= _SAT_LOWER[2]) & (g[:, 2] > 0)) | (
            (th[:, 2] >= _SAT_UPPER[2]) & (g[:, 2] < 0))
        g[held, 2] = 0.0
        h[held, 2, :] = 0.0
        h[held, :, 2] = 0.0
        h[held, 2, 2] = 1.0
        diag = np.diagonal(h, axis1=1, axis2=2)
        damped = h + lam[idx, None, None] * (diag[:, :, None] * eye + 1e-12 * eye)
        with np.errstate(invalid="ignore", over="ignore"):
            step = -np.linalg.solve(damped, g[..., None])[..., 0]
            new = np.clip(th + step, _SAT_LOWER, _SAT_UPPER)
            rn, jn = _sat_batch_residuals(new, x, y, w[idx])
            cn = 0.5 * np.sum(rn * rn, axis=1)
        better = np.isfinite(cn) & (cn < cost[idx])
        done = better & (cost[idx] - cn <= rtol * np.maximum(cost[idx], 1e-300))
        acc = idx[better]
        theta[acc], r[acc], jac[acc], cost[acc] = new[better], rn[better], jn[better], cn[better]
        lam[acc] = np.maximum(lam[acc] * 0.3, 1e-12)
        lam[idx[~better]] *= 10.0
        settled[idx[done]] = True
        active[idx[done]] = False
        active[idx[~better & (lam[idx] > 1e10)]] = False  # no step improves any more
    for i in np.flatnonzero(~settled):  # the few hard ones: polish with the reference solver
        res = _sat_solve(x, y, w[i], [theta[i]])
        if res.cost < cost[i]:
            theta[i] = res.x
    return theta


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
    ``A = e^a C_ref^alpha``. The bootstrap refits every resample at once from the point
    estimate (:func:`_sat_solve_batch`); ``progress`` is kept for compatibility (the bootstrap
    takes a fraction of a second).
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
        rng = np.random.default_rng(seed)
        counts = np.stack([rng.multinomial(len(x), np.full(len(x), 1.0 / len(x)))
                           for _ in range(n_bootstrap)]).astype(float)
        counts = counts[np.count_nonzero(counts, axis=1) >= 3]
        theta = _sat_solve_batch(x, y, np.sqrt(counts), res.x)
        samples = np.column_stack([np.exp(theta[:, 1]), np.exp(theta[:, 0]) * c_ref ** theta[:, 2],
                                   theta[:, 2]])
        fit.samples = np.asarray(samples).reshape(-1, 3)
        fit.ci = {k: _percentile_ci(fit.samples[:, i], level)
                  for i, k in enumerate(("E", "A", "alpha"))}
    return fit
