"""Where each hyperparameter's optimum goes as the run grows, from every trial of a sweep.

The Pareto front's points read the optimum off one lucky run per cost, and a local search such
as CARBS leaves the cheap end of its front untuned (it spends its trials at the expensive end),
so a law fitted through the front's values can miss the trend entirely. Near its optimum,
though, the loss is quadratic in each hyperparameter's basic space (log learning rate, logit
warm-up, ...), and every trial, good or bad, says where that parabola's bottom is. So this
module fits one model to all successful trials::

    output = base + sum_h c_h (T_h(h) - a_h - b_h . z)^2

* ``T_h``: the hyperparameter in its own basic space (log10, log10-odds or linear);
* ``z``: the run's scale: (log10 N, log10 D) when the table has parameter and token counts (the
  optimum is then a power law of N and D), else log10 of the cost (a power law of the cost);
* ``base``: Chinchilla's L(N, D) = E + A N^-alpha + B D^-beta, or, from the cost alone, the
  front's law E + A C^-alpha (a quadratic in log10 C when maximising or when the output is not
  positive); the output's sign is flipped when maximising;
* ``c_h >= 0``: the curvature (how much the hyperparameter matters); ``a_h + b_h . z`` the
  optimum.

Robust least squares (``soft_l1``; its scale starts at the front's scatter and is re-estimated
from the model's own residuals, so it tracks the noise) with an analytic Jacobian; a weak
prior keeps an optimum the data cannot place (a flat direction, ``c_h -> 0``) near the
trials' typical value instead of letting it run away. Intervals: a bootstrap over trials, each
resample refitted from the full-data optimum. A hyperparameter whose optimum is not pinned
(:meth:`SurfaceFit.identified`) is left to its law along the front by the caller.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from scaling.bootstrap import interval_percentiles

logger = logging.getLogger(__name__)

#: Prior width (basic-space units) of each optimum's level and slope.
PRIOR_SD = 1.0
#: An optimum counts as identified when its interval at the budget is narrower than this
#: (basic-space units, i.e. decades for a log-space parameter) ...
MAX_INTERVAL_WIDTH = 1.0
#: ... and its curvature is known within a factor e^MAX_LOG_CURVATURE_SE.
MAX_LOG_CURVATURE_SE = 0.7


@dataclass
class SurfaceFit:
    """The fitted model (see the module docstring); ``optimum`` gives h*(z) with intervals."""

    names: list[str]
    kind: str
    """``"nd"`` (base = L(N, D), z = log10 N, log10 D) or ``"cost"`` (z = log10 cost)."""
    base: str
    z_mean: np.ndarray
    theta: np.ndarray
    n_base: int
    f_scale: float
    n_points: int
    level: float = 0.95
    log_c_floor: float = -math.inf
    t_range: dict = field(default_factory=dict, repr=False)
    """name -> the 5th and 95th percentiles of the trials' basic-space values."""
    z_lo: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    z_hi: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    cov: np.ndarray = field(default_factory=lambda: np.empty((0, 0)), repr=False)
    samples: np.ndarray = field(default_factory=lambda: np.empty((0, 0)), repr=False)

    @property
    def q(self) -> int:
        """Number of scale regressors in z."""
        return len(self.z_mean)

    def _slot(self, name: str) -> int:
        return self.n_base + (2 + self.q) * self.names.index(name)

    def curvature(self, name: str) -> float:
        """c_h: the loss increase per squared basic-space unit away from the optimum."""
        return float(math.exp(self.theta[self._slot(name)]))

    def optimum_basic(self, name: str, z) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(optimum, low, high) in basic space at scale(s) ``z`` (rows of raw regressors)."""
        z = np.atleast_2d(np.asarray(z, dtype=float)) - self.z_mean
        s = self._slot(name)
        t = self.theta[s + 1] + z @ self.theta[s + 2:s + 2 + self.q]
        q = interval_percentiles(self.level)
        if len(self.samples):
            tb = self.samples[:, s + 1][:, None] + self.samples[:, s + 2:s + 2 + self.q] @ z.T
            lo, hi = np.percentile(tb, q, axis=0)
        elif self.cov.size:  # no bootstrap: the Gauss-Newton (Laplace) interval
            g = np.column_stack([np.ones(len(z)), z])
            block = self.cov[s + 1:s + 2 + self.q, s + 1:s + 2 + self.q]
            sd = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", g, block, g), 0.0))
            half = _normal_quantile(0.5 + self.level / 2) * sd
            lo, hi = t - half, t + half
        else:
            lo = hi = np.full_like(t, np.nan)
        return t, lo, hi

    def curvature_resolved(self, name: str) -> bool:
        """Whether the data show the loss bending in this parameter (c_h clearly above zero)."""
        s = self._slot(name)
        se = math.sqrt(self.cov[s, s]) if self.cov.size and self.cov[s, s] >= 0 else math.inf
        return self.theta[s] > self.log_c_floor + 1.0 and se <= MAX_LOG_CURVATURE_SE

    def clip_to_data(self, z) -> np.ndarray:
        """``z`` clipped into the trials' range of scales (no extrapolation of the trend)."""
        return np.clip(np.asarray(z, dtype=float), self.z_lo, self.z_hi)

    def identified(self, name: str, z) -> tuple[bool, str]:
        """Whether the data pin this optimum at scale ``z``, and why not."""
        _, lo, hi = self.optimum_basic(name, z)
        width = float(np.max(hi - lo))
        s = self._slot(name)
        se = math.sqrt(self.cov[s, s]) if self.cov.size and self.cov[s, s] >= 0 else math.inf
        if not math.isfinite(width) or width > MAX_INTERVAL_WIDTH:
            return False, (f"its optimum's interval spans {width:.2g} basic-space units at "
                           f"this budget (the loss is nearly flat in it over the sweep)")
        if self.theta[s] <= self.log_c_floor + 1.0:
            return False, "its curvature is at zero: the loss does not depend on it"
        if se > MAX_LOG_CURVATURE_SE:
            return False, (f"its curvature is unresolved (log c = {math.log(self.curvature(name)):.2f}"
                           f" +- {se:.2f}): the loss barely depends on it")
        return True, ""


def _normal_quantile(p: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(p))


def _base_nd(theta, ln_n, ln_d):
    la, lb, le, al, be = theta[:5]
    t1 = np.exp(la - al * ln_n)
    t2 = np.exp(lb - be * ln_d)
    e = np.exp(le)
    jac = np.column_stack([t1, t2, np.full_like(t1, e), -ln_n * t1, -ln_d * t2])
    return e + t1 + t2, jac


def _base_sat(theta, x):
    la, le, al = theta[:3]
    t1 = np.exp(la - al * x)
    e = np.exp(le)
    return e + t1, np.column_stack([t1, np.full_like(t1, e), -x * t1])


def _base_quad(theta, x):
    return theta[0] + theta[1] * x + theta[2] * x * x, np.column_stack(
        [np.ones_like(x), x, x * x])


class _Model:
    """Residuals and analytic Jacobian of the surface for a set of rows."""

    def __init__(self, base, base_args, z, t, n_base, prior, prior_w):
        self.base, self.base_args, self.z, self.t = base, base_args, z, t
        self.n_base, self.k, self.q = n_base, t.shape[1], z.shape[1]
        self.prior, self.prior_w = prior, prior_w

    def predict(self, theta):
        y, jb = self.base(theta, *self.base_args)
        n = len(y)
        jac = np.zeros((n, len(theta)))
        jac[:, :self.n_base] = jb
        for j in range(self.k):
            s = self.n_base + (2 + self.q) * j
            c = math.exp(theta[s])
            r = self.t[:, j] - theta[s + 1] - self.z @ theta[s + 2:s + 2 + self.q]
            y = y + c * r * r
            jac[:, s] = c * r * r
            jac[:, s + 1] = -2 * c * r
            jac[:, s + 2:s + 2 + self.q] = -2 * c * r[:, None] * self.z
        return y, jac

    def residuals(self, theta, y, w):
        pred, jac = self.predict(theta)
        res = np.concatenate([(pred - y) * w, self._prior_res(theta)])
        return res, np.vstack([jac * w[:, None], self._prior_jac(theta)])

    def _prior_res(self, theta):
        out = []
        for j in range(self.k):
            s = self.n_base + (2 + self.q) * j
            out.append(self.prior_w * (theta[s + 1] - self.prior[j]))
            out.extend(self.prior_w * theta[s + 2:s + 2 + self.q])
        return np.asarray(out)

    def _prior_jac(self, theta):
        rows = []
        for j in range(self.k):
            s = self.n_base + (2 + self.q) * j
            for i in range(1 + self.q):
                row = np.zeros(len(theta))
                row[s + 1 + i] = self.prior_w
                rows.append(row)
        return np.asarray(rows).reshape(-1, len(theta))


def _solve(model: _Model, theta0, y, w, bounds, f_scale, max_nfev=None):
    def fun(th):
        return model.residuals(th, y, w)[0]

    def jac(th):
        return model.residuals(th, y, w)[1]

    return least_squares(fun, theta0, jac=jac, bounds=bounds, loss="soft_l1",
                         f_scale=f_scale, x_scale="jac", max_nfev=max_nfev)


def fit_surface(y: np.ndarray, hyper: dict[str, np.ndarray], *, n_params=None, tokens=None,
                cost=None, base_start=None, f_scale: float, n_bootstrap: int = 200,
                level: float = 0.95, seed: int = 0) -> SurfaceFit:
    """Fit the surface (module docstring) to all successful trials.

    Args:
        y: the output, signed so that lower is better.
        hyper: name -> basic-space values of each hyperparameter that gets a parabola.
        n_params, tokens: N and D per trial (the ``"nd"`` model), or
        cost: the cost per trial (the ``"cost"`` model).
        base_start: starting base parameters: Approach 3's (ln A, ln B, ln E, alpha, beta) for
            ``"nd"``; for ``"cost"``, None (fitted here).
        f_scale: the residual scale of the robust loss (the output's noise).
        n_bootstrap, level, seed: the bootstrap over trials.
    """
    y = np.asarray(y, dtype=float)
    names = list(hyper)
    t = np.column_stack([np.asarray(hyper[n], dtype=float) for n in names]) if names else \
        np.empty((len(y), 0))
    base = _base(y, n_params, tokens, cost, base_start)
    z_mean = base.z_raw.mean(axis=0)
    z = base.z_raw - z_mean
    prior = np.array([float(np.median(t[:, j])) for j in range(len(names))])
    c_floor = math.log(1e-10 * f_scale)  # the lower bound of every log c_h
    theta0, bounds = _start(base, t, f_scale, c_floor, z.shape[1])
    model = _Model(base.fn, base.args, z, t, len(base.theta), prior, f_scale / PRIOR_SD)
    res, f_scale = _fit_rescaled(model, theta0, y, bounds, f_scale, c_floor)
    fit = SurfaceFit(names, base.kind, base.name, z_mean, res.x, len(base.theta), f_scale,
                     len(y), level, log_c_floor=c_floor, z_lo=base.z_raw.min(axis=0),
                     z_hi=base.z_raw.max(axis=0),
                     t_range={n: tuple(float(v) for v in np.percentile(t[:, j], [5, 95]))
                              for j, n in enumerate(names)})
    dof = max(len(y) - len(res.x), 1)
    fit.cov = np.linalg.pinv(res.jac.T @ res.jac) * (2.0 * res.cost / dof)
    if n_bootstrap > 0:
        fit.samples = _bootstrap(model, res.x, y, bounds, f_scale, n_bootstrap, seed)
    logger.debug("surface fit (%s, %d params, %d trials): cost %.4g, %d evaluations",
                 base.kind, len(res.x), len(y), res.cost, res.nfev)
    return fit


@dataclass
class _Base:
    """The surface's base (the loss without the parabolas) and the scale regressors z."""

    kind: str
    name: str
    fn: Any
    args: tuple
    theta: np.ndarray
    lower: list
    upper: list
    z_raw: np.ndarray


def _base(y, n_params, tokens, cost, base_start) -> _Base:
    """Chinchilla's L(N, D) from N and D; from the cost alone, the saturating law (or a
    quadratic in log cost when the output is not positive)."""
    if n_params is not None:
        ln_n, ln_d = np.log(np.asarray(n_params, float)), np.log(np.asarray(tokens, float))
        return _Base("nd", "approach3", _base_nd, (ln_n, ln_d),
                     np.asarray(base_start, dtype=float),
                     [-np.inf, -np.inf, -np.inf, 0.0, 0.0], [np.inf, np.inf, np.inf, 3.0, 3.0],
                     np.column_stack([ln_n, ln_d]) / math.log(10))
    x = np.log10(np.asarray(cost, float))
    xc = x - x.mean()
    if np.all(y > 0):
        theta = np.array([math.log(max(np.ptp(y), 1e-6)), math.log(max(y.min() * 0.5, 1e-12)),
                          0.3])
        return _Base("cost", "saturating", _base_sat, (xc * math.log(10),), theta,
                     [-np.inf, -np.inf, 0.0], [np.inf, np.inf, 10.0], x[:, None])
    return _Base("cost", "quadratic", _base_quad, (xc,), np.polyfit(xc, y, 2)[::-1],
                 [-np.inf] * 3, [np.inf] * 3, x[:, None])


def _start(base: _Base, t: np.ndarray, f_scale: float, c_floor: float, q: int):
    """Starting parameters and bounds: each parabola starts at the trials' median with a
    curvature of the noise over the values' variance, and no slope."""
    theta0, lo, hi = list(base.theta), list(base.lower), list(base.upper)
    for j in range(t.shape[1]):
        var = max(float(np.var(t[:, j])), 1e-6)
        theta0 += [math.log(f_scale / var), float(np.median(t[:, j]))] + [0.0] * q
        lo += [c_floor, -np.inf] + [-np.inf] * q
        hi += [math.log(1e6 * f_scale / var), np.inf] + [np.inf] * q
    bounds = (np.asarray(lo), np.asarray(hi))
    return np.clip(np.asarray(theta0, dtype=float), bounds[0] + 1e-9, bounds[1] - 1e-9), bounds


def _fit_rescaled(model: _Model, theta0, y, bounds, f_scale: float, c_floor: float):
    """The robust fit; the scale given is an upper guess, re-estimated (twice at most) from the
    residuals, refitting each time. Returns the result and the scale it used."""
    w = np.ones(len(y))
    res = _solve(model, theta0, y, w, bounds, f_scale)
    floor = 1e-3 * float(np.median(np.abs(y)))
    n_base, q = model.n_base, model.q
    for _ in range(2):
        resid = model.predict(res.x)[0] - y
        mad = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
        if not mad < f_scale / 1.5:
            break
        f_scale = max(mad, floor, 1e-12)
        model.prior_w = f_scale / PRIOR_SD
        start = res.x.copy()
        for j in range(model.k):  # a curvature stuck at zero cannot move again: restart it
            sl = slice(n_base + (2 + q) * j, n_base + (2 + q) * (j + 1))
            if start[sl.start] <= c_floor + 1.0:
                start[sl] = theta0[sl]
        res = _solve(model, start, y, w, bounds, f_scale)
    return res, f_scale


def _bootstrap(model: _Model, theta, y, bounds, f_scale: float, n_bootstrap: int,
               seed: int) -> np.ndarray:
    """Refits on resampled trials, from the full-data optimum. Rows are drawn as indices (the
    robust loss does not weight a repeated row like a doubled residual, so the multinomial
    weights of :mod:`scaling.bootstrap` would be another estimator)."""
    rng = np.random.default_rng(seed)
    w = np.ones(len(y))
    samples = []
    for _ in range(n_bootstrap):
        idx = rng.integers(0, len(y), len(y))
        sub = _Model(model.base, tuple(a[idx] for a in model.base_args), model.z[idx],
                     model.t[idx], model.n_base, model.prior, model.prior_w)
        r = _solve(sub, theta, y[idx], w, bounds, f_scale, max_nfev=50)
        samples.append(r.x)
    return np.asarray(samples)
