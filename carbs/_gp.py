"""An exact gpytorch GP fitted fast: L-BFGS on the exact marginal likelihood, warm starts,
Cholesky (never CG), float64, cached posterior and chunked prediction.

Hyperparameters are fitted on at most ``max_fit_points`` training points (a random subsample
for long sweeps) but the posterior conditions on every point.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import gpytorch
import numpy as np
import scipy.linalg
import scipy.optimize
import torch

logger = logging.getLogger("carbs")

_BIG = 1_000_000
_RAW_BOUND = 15.0  # raw (softplus) hyperparameters: positive values up to ~15
_MEAN_BOUND = 20.0


class _ExactModel(gpytorch.models.ExactGP):
    def __init__(self, likelihood, mean, kernel):
        super().__init__(None, None, likelihood)
        self.mean_module = mean
        self.covar_module = kernel

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def _make_kernel(kind: str, dim: int, lengthscale: float) -> gpytorch.kernels.Kernel:
    # A LogNormal prior centered at twice the initial length scale keeps the exact-MLL optimum
    # away from the degenerate "white noise" solution (a length scale -> 0 on one dimension,
    # which resampled, identical inputs otherwise make attractive).
    ls_prior = gpytorch.priors.LogNormalPrior(math.log(2.0 * lengthscale), 1.0)
    if kind == "matern_linear":
        matern = gpytorch.kernels.MaternKernel(nu=1.5, ard_num_dims=dim,
                                               lengthscale_prior=ls_prior)
        matern.lengthscale = torch.full((1, dim), float(lengthscale))
        return gpytorch.kernels.LinearKernel() + gpytorch.kernels.ScaleKernel(matern)
    if kind == "rbf":
        rbf = gpytorch.kernels.RBFKernel(lengthscale_prior=ls_prior)
        rbf.lengthscale = torch.tensor(float(lengthscale))
        return gpytorch.kernels.ScaleKernel(rbf)
    raise ValueError(f"unknown kernel kind {kind!r}")


class GaussianProcess:
    """Exact GP regression with a gpytorch model and a cached Cholesky posterior.

    Args:
        kind: "matern_linear" (Linear + Scale(Matern 3/2, ARD)) or "rbf" (Scale(RBF), 1-D).
        dim: input dimension.
        lengthscale: initial length scale(s) (the search radius).
        device: torch device.
    """

    def __init__(self, kind: str, dim: int, lengthscale: float, device: torch.device):
        self.kind = kind
        self.dim = dim
        self.device = device
        self.dtype = torch.float64
        noise_prior = gpytorch.priors.LogNormalPrior(math.log(1e-2), 0.5)
        likelihood = gpytorch.likelihoods.GaussianLikelihood(
            noise_prior=noise_prior, noise_constraint=gpytorch.constraints.GreaterThan(1e-6)
        )
        likelihood.noise = torch.tensor(1e-2)
        self.model = _ExactModel(likelihood, gpytorch.means.ConstantMean(),
                                 _make_kernel(kind, dim, lengthscale))
        self.model.to(device=device, dtype=self.dtype)
        self._x: torch.Tensor | None = None
        self._L: torch.Tensor | None = None
        self._alpha: torch.Tensor | None = None
        self._cond_hp: torch.Tensor | None = None  # hyperparameters of the cached factor
        self._jitter = 0.0  # diagonal jitter the cached factor needed
        self.last_fit: dict[str, Any] = {}
        self.is_warm = False  # fitted before (or hyperparameters loaded): fits are warm starts

    # --- hyperparameters --------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, list]:
        """Raw hyperparameters as nested lists (JSON-safe, exact float64 round trip)."""
        return {n: p.detach().cpu().tolist() for n, p in self.model.named_parameters()}

    def set_hyperparameters(self, hp: dict[str, list]) -> None:
        """Load raw hyperparameters saved by :meth:`hyperparameters`."""
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for n, v in hp.items():
                if n in params:
                    params[n].copy_(torch.tensor(v, dtype=self.dtype, device=self.device))
        self.is_warm = True

    def _tensor(self, a) -> torch.Tensor:
        return torch.as_tensor(a, dtype=self.dtype, device=self.device)

    def fit(self, x, y, max_iter: int = 50, warm_max_iter: int | None = None) -> dict[str, Any]:
        """Maximise the exact marginal likelihood (plus priors) with L-BFGS-B (scipy, autograd
        gradients on the flat vector of raw hyperparameters, bounded so steps cannot overflow)
        from the current (warm-start) hyperparameters. A warm start that is already converged
        stops after one evaluation. A warm start runs at most ``warm_max_iter`` iterations (when
        given): between suggest() calls the data change by about a point, so the hyperparameters
        only need to track them; capping the work keeps every call cheap while the fit goes on
        converging across calls. Returns fit info (evaluations, loss, seconds, skipped)."""
        t0 = time.perf_counter()
        if self.is_warm and warm_max_iter is not None:
            max_iter = min(max_iter, warm_max_iter)
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        self.model.set_train_data(self._tensor(x), self._tensor(y), strict=False)
        named, bounds = self._trainable()
        x0 = np.clip(torch.cat([p.detach().reshape(-1) for _, p in named]).cpu().numpy(),
                     bounds[:, 0], bounds[:, 1])
        objective = _Objective(self, named, x, y)
        start_loss, _ = objective(x0)
        res = scipy.optimize.minimize(
            objective, x0, jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": max_iter, "maxfun": 2 * max_iter, "gtol": 1e-3, "ftol": 1e-6},
        )
        objective.assign(res.x if res.fun <= start_loss else x0)
        end_loss = float(min(res.fun, start_loss))
        self.is_warm = True
        info: dict[str, Any] = {"n": len(y), "evals": objective.n_eval, "skipped": res.nit == 0,
                                "loss": end_loss, "seconds": time.perf_counter() - t0}
        self.last_fit = info
        logger.debug("GP fit %s: n=%d evals=%d iters=%d loss=%.4f %.3fs", self.kind, info["n"],
                     objective.n_eval, res.nit, end_loss, info["seconds"])
        return info

    def _trainable(self) -> tuple[list[tuple[str, torch.Tensor]], np.ndarray]:
        """The trainable raw hyperparameters (name, tensor) and the (k, 2) bounds of their flat
        vector."""
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        bounds = []
        for n, p in named:
            lim = _MEAN_BOUND if n.endswith("constant") else _RAW_BOUND
            bounds += [(-lim, lim)] * p.numel()
        return named, np.array(bounds, dtype=np.float64).reshape(-1, 2)

    # --- kernel in closed form ---------------------------------------------------------------
    def _k(self, a: torch.Tensor, b: torch.Tensor, diag: bool = False) -> torch.Tensor:
        """The gpytorch covar_module's matrix, computed in closed form from its hyperparameters
        (identical values, far less per-call overhead; checked against gpytorch in the tests).
        Without autograd the full matrix is built in place (one n x m buffer and one for the
        exponential: the posterior's kernel matrices are the largest arrays CARBS makes)."""
        k = self.model.covar_module
        if self.kind == "matern_linear":
            lin, scaled = k.kernels[0], k.kernels[1]
            ls = scaled.base_kernel.lengthscale.reshape(-1)
            if diag:
                d2 = torch.zeros(len(a), dtype=a.dtype, device=a.device)
                dot = (a * a).sum(-1)
            elif not torch.is_grad_enabled():
                r = _sqdist(a / ls, b / ls).clamp_(min=1e-30).sqrt_().mul_(math.sqrt(3.0))
                e = torch.exp(-r)
                r.add_(1.0).mul_(e).mul_(scaled.outputscale)
                return r.addmm_(a, b.T, alpha=float(lin.variance))
            else:
                d2 = _sqdist(a / ls, b / ls)
                dot = a @ b.T
            r = torch.sqrt(torch.clamp(d2, min=1e-30)) * math.sqrt(3.0)
            return lin.variance.reshape(()) * dot + scaled.outputscale * (1.0 + r) * torch.exp(-r)
        ls = k.base_kernel.lengthscale.reshape(-1)
        if diag:
            return k.outputscale * torch.ones(len(a), dtype=a.dtype, device=a.device)
        return k.outputscale * torch.exp(-0.5 * _sqdist(a / ls, b / ls))

    def _kernel_modules(self):
        """(scale kernel, its base kernel, linear kernel or None)."""
        k = self.model.covar_module
        if self.kind == "matern_linear":
            return k.kernels[1], k.kernels[1].base_kernel, k.kernels[0]
        return k, k.base_kernel, None

    # --- posterior --------------------------------------------------------------------------

    def condition(self, x, y) -> None:
        """Cache the Cholesky posterior on all (x, y) at the current hyperparameters.

        When the hyperparameters are those of the last call and its inputs begin with the
        same rows (observations are appended; fantasies come and go at the end), the cached
        factor of those rows is kept and only the new rows are factored (O(n^2 m) instead of
        O(n^3)): the factor of a leading block is the leading block of the factor."""
        x, y = self._tensor(x), self._tensor(y).reshape(-1)
        with torch.no_grad():
            hp = self._hp_vector()
            keep = self._reusable_rows(x, hp)
            L = self._extend(x, keep) if keep > 0 and keep >= len(x) // 2 else None
            if L is None:
                L = self._factor(x)
            m0 = self.model.mean_module.constant.reshape(())
            alpha = torch.cholesky_solve((y - m0).unsqueeze(-1), L).squeeze(-1)
        self._x, self._L, self._alpha, self._cond_hp = x, L, alpha, hp

    def _hp_vector(self) -> torch.Tensor:
        """Every hyperparameter as one flat vector (a copy), to tell whether they changed."""
        return torch.cat([p.detach().reshape(-1) for p in self.model.parameters()]).clone()

    def _reusable_rows(self, x: torch.Tensor, hp: torch.Tensor) -> int:
        """How many leading rows of ``x`` the cached factor covers (0: none)."""
        if self._L is None or self._cond_hp is None or not torch.equal(hp, self._cond_hp):
            return 0
        k = min(len(x), len(self._x))
        same = (x[:k] == self._x[:k]).all(dim=1)
        return k if bool(same.all()) else int(torch.argmin(same.to(torch.int8)))

    def _factor(self, x: torch.Tensor) -> torch.Tensor:
        """Cholesky factor of K(x, x) + noise I (+ the smallest jitter that makes it work)."""
        K = self._k(x, x)
        K.diagonal().add_(float(self.model.likelihood.noise))
        jitter = 0.0
        for _ in range(6):
            L, info = torch.linalg.cholesky_ex(K)
            if int(info) == 0:
                self._jitter = jitter
                return L
            step = 1e-8 if jitter == 0 else 9 * jitter  # jitter: 1e-8, 1e-7, ...
            K.diagonal().add_(step)
            jitter += step
        raise RuntimeError("GP covariance is not positive definite even with jitter")

    def _extend(self, x: torch.Tensor, keep: int) -> torch.Tensor | None:
        """The factor of ``x`` from the cached factor of its first ``keep`` rows (None when
        the new block is not positive definite at the cached jitter: factor from scratch)."""
        assert self._L is not None and self._x is not None
        L11 = self._L[:keep, :keep]
        if keep == len(x):
            return L11
        xo, xn = x[:keep], x[keep:]
        diag = (self.model.likelihood.noise.reshape(()) + self._jitter) * torch.eye(
            len(xn), dtype=self.dtype, device=self.device)
        B = torch.linalg.solve_triangular(L11, self._k(xo, xn), upper=False)  # (keep, m)
        L22, info = torch.linalg.cholesky_ex(self._k(xn, xn) + diag - B.T @ B)
        if int(info) != 0:
            return None
        top = torch.cat([L11, torch.zeros(keep, len(xn), dtype=self.dtype,
                                          device=self.device)], dim=1)
        return torch.cat([top, torch.cat([B.T, L22], dim=1)], dim=0)

    def predict(self, xq, chunk: int = 1024,
                with_var: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Latent posterior mean and variance (None unless ``with_var``) at ``xq``, chunked."""
        if self._L is None:
            raise RuntimeError("GaussianProcess.predict before condition()")
        xq = self._tensor(xq)
        means, vars_ = [], []
        with torch.no_grad():
            for s in range(0, len(xq), chunk):
                xc = xq[s : s + chunk]
                ks = self._k(xc, self._x)  # (m, n)
                mu = self.model.mean_module.constant.reshape(()) + ks @ self._alpha
                means.append(mu)
                if not with_var:
                    continue
                v = torch.linalg.solve_triangular(self._L, ks.T, upper=False)
                kd = self._k(xc, xc, diag=True)
                vars_.append(torch.clamp(kd - (v * v).sum(0), min=1e-12))
        return torch.cat(means), (torch.cat(vars_) if with_var else None)

    def sample_joint(self, xq, generator: torch.Generator, use_mean: bool = False) -> torch.Tensor:
        """One joint posterior sample (or the mean) of the latent function at ``xq``."""
        xq = self._tensor(xq)
        mu, _ = self.predict(xq, with_var=False)
        if use_mean:
            return mu
        with torch.no_grad():
            ks = self._k(xq, self._x)
            v = torch.linalg.solve_triangular(self._L, ks.T, upper=False)
            cov = self._k(xq, xq) - v.T @ v
            cov = 0.5 * (cov + cov.T) + 1e-8 * torch.eye(len(xq), dtype=self.dtype,
                                                          device=self.device)
            L, info = torch.linalg.cholesky_ex(cov)
            if int(info) != 0:
                evals, evecs = torch.linalg.eigh(cov)
                L = evecs * torch.sqrt(torch.clamp(evals, min=0.0))
            eps = torch.randn(len(xq), generator=generator, dtype=self.dtype, device="cpu")
            return mu + L @ eps.to(self.device)


class _Objective:
    """The L-BFGS-B objective on the flat vector of a GP's raw hyperparameters, in numpy: the
    negative exact marginal log likelihood minus the log priors, per point (the value of
    gpytorch's ExactMarginalLogLikelihood, negated) and its gradient in closed form; ``1e10``
    where the covariance is not positive definite or the value is not finite.

    With G = dL/dK = (K^-1 - alpha alpha^T) / (2n), each gradient is sum(G * dK/dtheta): trace(G)
    for the noise, sum(G * shape) for the output scale, sum(G * X X^T) for the linear variance,
    and for the length scales the weighted squared distances sum_ij (G * e)_ij (x_id - x_jd)^2 /
    l_d^3, times 3 s for Matern 3/2 (e = exp(-r)) and times s for the RBF (e = its shape). Raw
    values map to positive ones by softplus (gpytorch's Positive / GreaterThan constraints),
    whose derivative is the sigmoid; the priors are LogNormal. No torch in the loop: about 4x
    faster than autograd through the kernel at 200 points, same values (checked against
    gpytorch's autograd in the tests).
    """

    def __init__(self, gp: GaussianProcess, named: list[tuple[str, torch.Tensor]],
                 x: np.ndarray, y: np.ndarray):
        self.gp, self.params = gp, [p for _, p in named]
        where, i = {}, 0
        for _, p in named:
            where[id(p)] = slice(i, i + p.numel())
            i += p.numel()
        lik = gp.model.likelihood.noise_covar
        scaled, base, lin = gp._kernel_modules()
        self.i_noise, self.i_const = where[id(lik.raw_noise)], where[id(gp.model.mean_module.raw_constant)]
        self.i_scale, self.i_ls = where[id(scaled.raw_outputscale)], where[id(base.raw_lengthscale)]
        self.i_lin = None if lin is None else where[id(lin.raw_variance)]
        self.noise_floor = float(lik.raw_noise_constraint.lower_bound)
        self.ls_prior = (float(base.lengthscale_prior.loc), float(base.lengthscale_prior.scale))
        self.noise_prior = (float(lik.noise_prior.loc), float(lik.noise_prior.scale))
        self.matern = gp.kind == "matern_linear"
        self.x, self.y = x, y
        self.xc = x - x.mean(0, keepdims=True)
        self.xx = x @ x.T if lin is not None else None
        self.n_eval = 0

    def assign(self, v: np.ndarray) -> None:
        """Copy the flat vector ``v`` into the GP's hyperparameters."""
        vt = torch.as_tensor(v, dtype=self.gp.dtype, device=self.gp.device)
        i = 0
        with torch.no_grad():
            for p in self.params:
                p.copy_(vt[i : i + p.numel()].reshape(p.shape))
                i += p.numel()

    def __call__(self, v: np.ndarray) -> tuple[float, np.ndarray]:
        self.n_eval += 1
        try:
            with np.errstate(all="ignore"):
                val, g = self._loss_and_grad(np.asarray(v, dtype=np.float64))
        except np.linalg.LinAlgError:  # not positive definite at this point
            return 1e10, np.zeros_like(v)
        if not math.isfinite(val):
            return 1e10, np.zeros_like(v)
        return val, np.nan_to_num(g)

    def _loss_and_grad(self, v: np.ndarray) -> tuple[float, np.ndarray]:
        n, xc = len(self.y), self.xc
        noise = _softplus(v[self.i_noise])[0] + self.noise_floor
        const = float(v[self.i_const][0])
        s_out = _softplus(v[self.i_scale])[0]
        ls = _softplus(v[self.i_ls])
        z = xc / ls
        sq = (z * z).sum(1)
        d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (z @ z.T), 0.0)
        if self.matern:
            r = np.sqrt(np.maximum(d2, 1e-30)) * math.sqrt(3.0)
            e = np.exp(-r)
            shape, ls_factor = (1.0 + r) * e, 3.0
        else:
            e = np.exp(-0.5 * d2)
            shape, ls_factor = e, 1.0
        K = s_out * shape
        if self.i_lin is not None:
            lin_var = _softplus(v[self.i_lin])[0]
            K = K + lin_var * self.xx
        K[np.diag_indices(n)] += noise
        L = scipy.linalg.cholesky(K, lower=True, check_finite=False)
        resid = self.y - const
        alpha = scipy.linalg.cho_solve((L, True), resid, check_finite=False)
        nll = 0.5 * float(resid @ alpha) + float(np.log(np.diag(L)).sum())
        nll += 0.5 * n * math.log(2 * math.pi)
        k_inv = scipy.linalg.cho_solve((L, True), np.eye(n), check_finite=False)
        G = (k_inv - np.outer(alpha, alpha)) / (2 * n)
        W = G * e
        wx = 2.0 * (W.sum(1) @ (xc * xc)) - 2.0 * (xc * (W @ xc)).sum(0)
        g_ls = ls_factor * s_out * wx / ls**3
        g_noise = float(np.trace(G))
        log_prior = (_lognormal_log_prob(ls, *self.ls_prior).sum()
                     + _lognormal_log_prob(noise, *self.noise_prior))
        g_ls = g_ls - _lognormal_dlog_prob(ls, *self.ls_prior) / n
        g_noise = g_noise - _lognormal_dlog_prob(noise, *self.noise_prior) / n
        g = np.zeros_like(v)
        g[self.i_noise] = g_noise * _sigmoid(v[self.i_noise])
        g[self.i_const] = -alpha.sum() / n
        g[self.i_scale] = (G * shape).sum() * _sigmoid(v[self.i_scale])
        g[self.i_ls] = g_ls * _sigmoid(v[self.i_ls])
        if self.i_lin is not None:
            g[self.i_lin] = (G * self.xx).sum() * _sigmoid(v[self.i_lin])
        return nll / n - float(log_prior) / n, g


def _softplus(v: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, v)


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * v))


def _lognormal_log_prob(v, loc: float, scale: float):
    """log density of LogNormal(loc, scale) at ``v`` (elementwise)."""
    lv = np.log(v)
    return -lv - math.log(scale) - 0.5 * math.log(2 * math.pi) - (lv - loc) ** 2 / (2 * scale**2)


def _lognormal_dlog_prob(v, loc: float, scale: float):
    """Derivative of :func:`_lognormal_log_prob` with respect to ``v``."""
    return -(1.0 + (np.log(v) - loc) / scale**2) / v


def _sqdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances, clamped at 0 (centered for round-off)."""
    c = a.mean(0, keepdim=True)
    a, b = a - c, b - c
    outer = (a * a).sum(-1, keepdim=True) + (b * b).sum(-1).unsqueeze(0)
    return torch.clamp(torch.addmm(outer, a, b.T, alpha=-2.0), min=0.0)


class exact_settings:
    """gpytorch settings for exact GP algebra: Cholesky for everything (no CG / Lanczos).
    A context manager; the latency benchmark's reference procedure uses it too."""

    def __enter__(self):
        self._ctx = [
            gpytorch.settings.max_cholesky_size(_BIG),
            gpytorch.settings.fast_computations(False, False, False),
        ]
        for c in self._ctx:
            c.__enter__()
        return self

    def __exit__(self, *exc):
        for c in reversed(self._ctx):
            c.__exit__(*exc)
        return False
