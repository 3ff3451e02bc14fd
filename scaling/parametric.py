"""Chinchilla Approach 3: the parametric law L(N, D) = E + A / N^alpha + B / D^beta.

The fit follows Hoffmann et al. (2022) and Epoch AI's replication (Besiroglu et al. 2024):
minimise the Huber loss (delta = 1e-3), summed over runs, between log L and
``LSE(a - alpha log N, b - beta log D, e)`` with ``A = e^a, B = e^b, E = e^e``, starting from a
grid of 4,500 points and keeping the best optimum.

Speed: all starts are optimised at once by a batched, damped Newton method with analytic
gradients and Hessians (numpy, float64); the best few results are then polished with scipy's
L-BFGS-B to full precision. A bootstrap over runs is the same batched solver, where each
resample is a row of multinomial weights over the runs, warm-started from the full-data optimum.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from scaling.bootstrap import bootstrap_counts

logger = logging.getLogger(__name__)

#: Parameter order used by every array in this module: (ln A, ln B, ln E, alpha, beta).
PARAM_NAMES = ("a", "b", "e", "alpha", "beta")
HUBER_DELTA = 1e-3


def default_grid() -> np.ndarray:
    """The paper's 4,500 starting points, shape (4500, 5), in ``PARAM_NAMES`` order.

    alpha, beta in {0, 0.5, ..., 2}; e in {-1, -0.5, ..., 1}; a, b in {0, 5, ..., 25}.
    """
    alphas = np.arange(0.0, 2.5, 0.5)
    es = np.arange(-1.0, 1.5, 0.5)
    abs_ = np.arange(0.0, 30.0, 5.0)
    grid = [(a, b, e, al, be) for al, be, e, a, b in itertools.product(alphas, alphas, es, abs_, abs_)]
    return np.asarray(grid, dtype=np.float64)


def huber(r: np.ndarray, delta: float = HUBER_DELTA) -> np.ndarray:
    """Huber loss: r^2 / 2 where |r| <= delta, else delta * (|r| - delta / 2)."""
    a = np.abs(r)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def predict_log_loss(theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray) -> np.ndarray:
    """log L = LSE(a - alpha log N, b - beta log D, e) for one parameter vector ``theta``."""
    a, b, e, alpha, beta = np.asarray(theta, dtype=np.float64)
    return np.logaddexp(np.logaddexp(a - alpha * log_n, b - beta * log_d), e)


def objective(
    theta: np.ndarray,
    log_n: np.ndarray,
    log_d: np.ndarray,
    log_loss: np.ndarray,
    delta: float = HUBER_DELTA,
    weights: np.ndarray | None = None,
) -> float:
    """The summed Huber objective at one parameter vector (the quantity the paper minimises)."""
    h = huber(log_loss - predict_log_loss(theta, log_n, log_d), delta)
    return float(np.sum(h if weights is None else weights * h))


def _softmax3(u1, u2, u3):
    m = np.maximum(np.maximum(u1, u2), u3)
    e1, e2, e3 = np.exp(u1 - m), np.exp(u2 - m), np.exp(u3 - m)
    s = e1 + e2 + e3
    return m + np.log(s), e1 / s, e2 / s, e3 / s


def batched_value(theta, log_n, log_d, log_loss, weights, delta=HUBER_DELTA) -> np.ndarray:
    """Objective for a batch: ``theta`` (S, 5), ``weights`` (S, n) or (n,) -> (S,)."""
    u1 = theta[:, 0:1] - theta[:, 3:4] * log_n
    u2 = theta[:, 1:2] - theta[:, 4:5] * log_d
    u3 = np.broadcast_to(theta[:, 2:3], u1.shape)
    pred, _, _, _ = _softmax3(u1, u2, u3)
    return np.sum(weights * huber(log_loss - pred, delta), axis=1)


def batched_value_grad_hess(theta, log_n, log_d, log_loss, weights, delta=HUBER_DELTA):
    """Objective, gradient (S, 5) and Hessian (S, 5, 5) for a batch of parameter vectors."""
    u1 = theta[:, 0:1] - theta[:, 3:4] * log_n
    u2 = theta[:, 1:2] - theta[:, 4:5] * log_d
    u3 = np.broadcast_to(theta[:, 2:3], u1.shape)
    pred, p1, p2, p3 = _softmax3(u1, u2, u3)
    r = log_loss - pred
    absr = np.abs(r)
    quad = absr <= delta
    f = np.sum(weights * huber(r, delta), axis=1)
    wpsi = weights * np.clip(r, -delta, delta)
    # d pred / d theta = [p1, p2, p3, -p1 log N, -p2 log D]
    g = (p1, p2, p3, -p1 * log_n, -p2 * log_d)
    grad = -np.stack([_rowdot(wpsi, gi) for gi in g], axis=1)
    coef = weights * quad + wpsi
    hess = np.empty((theta.shape[0], 5, 5))
    for i in range(5):
        cg = coef * g[i]
        for j in range(i, 5):
            hess[:, i, j] = hess[:, j, i] = _rowdot(cg, g[j])
    q1, q2 = wpsi * p1, wpsi * p2
    s1n, s2d = _rowdot(q1, log_n), _rowdot(q2, log_d)
    hess[:, 0, 0] -= q1.sum(1)
    hess[:, 0, 3] += s1n
    hess[:, 3, 0] += s1n
    hess[:, 3, 3] -= _rowdot(q1, log_n * log_n)
    hess[:, 1, 1] -= q2.sum(1)
    hess[:, 1, 4] += s2d
    hess[:, 4, 1] += s2d
    hess[:, 4, 4] -= _rowdot(q2, log_d * log_d)
    hess[:, 2, 2] -= _rowdot(wpsi, p3)
    return f, grad, hess


def _rowdot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise dot product of two (S, n) arrays (either may broadcast from (1, n))."""
    x, y = np.broadcast_arrays(x, y)
    return np.einsum("sn,sn->s", x, y)


@dataclass
class BatchResult:
    """Result of :func:`batched_newton`: final parameters and objectives of every start."""

    theta: np.ndarray
    value: np.ndarray
    iterations: int


def batched_newton(
    theta0: np.ndarray,
    log_n: np.ndarray,
    log_d: np.ndarray,
    log_loss: np.ndarray,
    weights: np.ndarray | None = None,
    delta: float = HUBER_DELTA,
    max_iter: int = 200,
    rtol: float = 1e-13,
    patience: int = 4,
) -> BatchResult:
    """Minimise the Huber objective from every row of ``theta0`` at once.

    Damped Newton (Levenberg-Marquardt on the absolute eigenvalues of the Hessian): the step
    is ``-V diag(1 / (|w| + mu max|w|)) V^T g``; accepted steps shrink ``mu``, rejected ones grow
    it. A start stops once it has failed to improve by more than ``rtol`` (relative) for
    ``patience`` consecutive iterations; converged starts are dropped from the active batch.
    ``weights`` (S, n) gives each start its own run weights (bootstrap resamples).
    """
    theta = np.array(theta0, dtype=np.float64, copy=True)
    s_total, n = theta.shape[0], log_n.shape[0]
    w_all = np.ones((1, n)) if weights is None else np.asarray(weights, dtype=np.float64)
    per_start_w = w_all.shape[0] == s_total and weights is not None
    log_n, log_d, log_loss = (np.asarray(x, dtype=np.float64)[None, :] for x in (log_n, log_d, log_loss))
    mu = np.full(s_total, 1e-3)
    stall = np.zeros(s_total, dtype=int)
    active = np.arange(s_total)
    value = batched_value(theta, log_n, log_d, log_loss, w_all if per_start_w else w_all[0])
    it = 0
    for it in range(1, max_iter + 1):
        if active.size == 0:
            break
        th = theta[active]
        w = w_all[active] if per_start_w else w_all
        f, g, h = batched_value_grad_hess(th, log_n, log_d, log_loss, w, delta)
        evals, evecs = np.linalg.eigh(h)
        absw = np.abs(evals)
        scale = absw.max(axis=1, keepdims=True) + 1e-300
        proj = np.einsum("sji,sj->si", evecs, g)
        step = -np.einsum("sij,sj->si", evecs, proj / (absw + mu[active, None] * scale))
        cand = th + step
        f_new = batched_value(cand, log_n, log_d, log_loss, w, delta)
        ok = np.isfinite(f_new) & (f_new < f)
        improved = ok & (f - f_new > rtol * np.abs(f))
        theta[active[ok]] = cand[ok]
        value[active] = np.where(ok, f_new, f)
        mu[active] = np.where(ok, np.maximum(mu[active] * 0.2, 1e-15), mu[active] * 10.0)
        stall[active] = np.where(improved, 0, stall[active] + 1)
        done = (stall[active] >= patience) | (mu[active] > 1e12)
        active = active[~done]
    return BatchResult(theta=theta, value=value, iterations=it)


def _polish(theta0, log_n, log_d, log_loss, delta, weights=None):
    """Polish one optimum with scipy L-BFGS-B and analytic gradients, to full precision."""

    def fun(x):
        w = np.ones_like(log_n) if weights is None else weights
        f, g, _ = batched_value_grad_hess(x[None, :], log_n[None], log_d[None], log_loss[None],
                                          w[None], delta)
        return float(f[0]), g[0]

    res = minimize(fun, theta0, jac=True, method="L-BFGS-B",
                   options={"ftol": 1e-16, "gtol": 1e-14, "maxiter": 5000, "maxcor": 20})
    return res.x, float(res.fun)


def fit_grid(
    log_n: np.ndarray,
    log_d: np.ndarray,
    log_loss: np.ndarray,
    grid: np.ndarray | None = None,
    delta: float = HUBER_DELTA,
    n_polish: int = 5,
) -> tuple[np.ndarray, float, BatchResult]:
    """Full-data fit: batched Newton from every grid start, then polish the best ``n_polish``.

    Returns (best parameters, best objective, the batch result of all starts).
    """
    grid = default_grid() if grid is None else np.asarray(grid, dtype=np.float64)
    batch = batched_newton(grid, log_n, log_d, log_loss, delta=delta)
    order = np.argsort(np.where(np.isfinite(batch.value), batch.value, np.inf))
    best_theta, best_f = None, np.inf
    seen: list[np.ndarray] = []
    for idx in order:
        if len(seen) >= n_polish:
            break
        cand = batch.theta[idx]
        if any(np.allclose(cand, s, rtol=0, atol=1e-6) for s in seen):
            continue
        seen.append(cand)
        x, f = _polish(cand, log_n, log_d, log_loss, delta)
        if f > batch.value[idx]:  # polishing never makes things worse
            x, f = cand, float(batch.value[idx])
        if f < best_f:
            best_theta, best_f = x, f
    logger.debug("approach3 grid: %d starts, %d iterations, best %.10g", len(grid),
                 batch.iterations, best_f)
    return np.asarray(best_theta), best_f, batch


def bootstrap_fits(
    theta_hat: np.ndarray,
    log_n: np.ndarray,
    log_d: np.ndarray,
    log_loss: np.ndarray,
    n_resamples: int,
    seed: int = 0,
    delta: float = HUBER_DELTA,
    batch_size: int = 500,
    progress: bool = True,
) -> np.ndarray:
    """Refit on ``n_resamples`` bootstrap resamples of the runs, warm-started at ``theta_hat``.

    Each resample is a vector of multinomial counts over the runs, so all resamples share the
    data arrays and are solved together in batches. Returns an (n_resamples, 5) array.
    """
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    n = len(log_n)
    out = np.empty((n_resamples, 5))
    bar = tqdm(total=n_resamples, desc="approach3 bootstrap", disable=not progress, leave=False)
    for start in range(0, n_resamples, batch_size):
        size = min(batch_size, n_resamples - start)
        counts = bootstrap_counts(rng, n, size)
        theta0 = np.repeat(np.asarray(theta_hat, dtype=np.float64)[None, :], size, axis=0)
        res = batched_newton(theta0, log_n, log_d, log_loss, weights=counts, delta=delta)
        out[start:start + size] = res.theta
        bar.update(size)
    bar.close()
    return out
