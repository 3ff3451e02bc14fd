"""The saturating law of a Pareto front's output, ``L(C) = E + A C^-alpha``, fitted on ``log L``
with bootstrap intervals; and :func:`fit_frontier_law`, which picks that law or a plain power
law for a front.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from scaling.bootstrap import bootstrap_counts, interval_percentiles, percentile_interval
from scaling.fits import FitError, check_costs, extrapolation_decades, warn_if_far
from scaling.powerlaw import PowerLawFit, fit_power_laws

logger = logging.getLogger(__name__)

__all__ = ["SaturatingFit", "fit_frontier_law", "fit_saturating"]


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
        cost = check_costs(np.atleast_1d(cost), "cost")
        level = self.level if level is None else level
        value = self(cost)
        if len(self.samples):
            s = self.samples
            curves = s[:, :1] + s[:, 1:2] * cost[None, :] ** (-s[:, 2:3])
            lo, hi = np.percentile(curves, interval_percentiles(level), axis=0)
        else:
            lo = hi = np.full_like(value, np.nan)
        dec = extrapolation_decades(cost, self.cost_min, self.cost_max)
        warn_if_far(dec, warn_decades, "saturating law")
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
    cost = check_costs(cost, "cost")
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
        counts = bootstrap_counts(np.random.default_rng(seed), len(x), n_bootstrap)
        counts = counts[np.count_nonzero(counts, axis=1) >= 3]
        theta = _sat_solve_batch(x, y, np.sqrt(counts), res.x)
        samples = np.column_stack([np.exp(theta[:, 1]), np.exp(theta[:, 0]) * c_ref ** theta[:, 2],
                                   theta[:, 2]])
        fit.samples = np.asarray(samples).reshape(-1, 3)
        fit.ci = {k: percentile_interval(fit.samples[:, i], level)
                  for i, k in enumerate(("E", "A", "alpha"))}
    return fit


def fit_frontier_law(cost, output, direction: str = "min", n_bootstrap: int = 1000,
                     level: float = 0.95, seed: int = 0, *, name: str = "output",
                     fall_back: bool = False) -> SaturatingFit | PowerLawFit:
    """The law of a Pareto front's ``output`` against its ``cost``.

    Minimising a positive output over 4+ points: the saturating law (:func:`fit_saturating`);
    otherwise a power law of the output (log space when it is positive, else linear).
    ``fall_back``: a saturating fit that fails gives the power law instead of raising.
    ``name`` names the output in error messages.

    Raises:
        FitError: the law cannot be fitted.
    """
    cost = np.asarray(cost, dtype=float)
    output = np.asarray(output, dtype=float)
    positive = bool(np.all(output > 0))
    if direction == "min" and positive and len(output) >= 4:
        try:
            return fit_saturating(cost, output, n_bootstrap, level, seed)
        except FitError as err:
            if not fall_back:
                raise
            logger.info("saturating frontier law failed (%s); using a power law", err)
    fit = fit_power_laws(cost, {name: output}, "log" if positive else "linear", n_bootstrap,
                         level, seed)[name]
    if isinstance(fit, FitError):
        raise fit
    return fit
