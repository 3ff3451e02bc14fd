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
import scipy.optimize
import torch

logger = logging.getLogger("carbs")

_BIG = 1_000_000
_RAW_BOUND = 15.0  # raw (softplus) hyperparameters: positive values up to ~15
_MEAN_BOUND = 20.0


def resolve_device(device: str) -> torch.device:
    """'auto' -> cuda when available, else cpu."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class _ExactModel(gpytorch.models.ExactGP):
    def __init__(self, likelihood, mean, kernel):
        super().__init__(None, None, likelihood)
        self.mean_module = mean
        self.covar_module = kernel

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def _make_kernel(kind: str, dim: int, lengthscale: float) -> gpytorch.kernels.Kernel:
    # A LogNormal prior centred at twice the initial length scale keeps the exact-MLL optimum
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
        x, y = self._tensor(x), self._tensor(y).reshape(-1)
        model = self.model
        model.set_train_data(x, y, strict=False)
        model.train()
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        params = [p for _, p in named]
        bounds = []
        for n, p in named:
            lim = _MEAN_BOUND if n.endswith("constant") else _RAW_BOUND
            bounds += [(-lim, lim)] * p.numel()
        x0 = torch.cat([p.detach().reshape(-1) for p in params]).cpu().numpy()
        x0 = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])
        n_eval = [0]

        def _set(v: np.ndarray) -> None:
            vt = torch.as_tensor(v, dtype=self.dtype, device=self.device)
            i = 0
            with torch.no_grad():
                for p in params:
                    p.copy_(vt[i : i + p.numel()].reshape(p.shape))
                    i += p.numel()

        def f(v: np.ndarray):
            n_eval[0] += 1
            _set(v)
            for p in params:
                p.grad = None
            try:
                val = self._loss_backward(x, y)
            except RuntimeError:  # not positive definite at this point (LinAlgError)
                return 1e10, np.zeros_like(v)
            if not math.isfinite(val):
                return 1e10, np.zeros_like(v)
            g = torch.cat([p.grad.reshape(-1) if p.grad is not None
                           else torch.zeros(p.numel(), dtype=self.dtype, device=self.device)
                           for p in params]).cpu().numpy()
            return val, np.nan_to_num(g)

        with _exact_settings():
            start_loss, _ = f(x0)
            res = scipy.optimize.minimize(
                f, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                options={"maxiter": max_iter, "maxfun": 2 * max_iter, "gtol": 1e-3,
                         "ftol": 1e-6},
            )
            best = res.x if res.fun <= start_loss else x0
            _set(best)
            end_loss = float(min(res.fun, start_loss))
        model.eval()
        self.is_warm = True
        info: dict[str, Any] = {"n": len(y), "evals": n_eval[0], "skipped": res.nit == 0,
                                "loss": end_loss, "seconds": time.perf_counter() - t0}
        self.last_fit = info
        logger.debug("GP fit %s: n=%d evals=%d iters=%d loss=%.4f %.3fs", self.kind, info["n"],
                     n_eval[0], res.nit, end_loss, info["seconds"])
        return info

    def neg_mll(self, x, y) -> float:
        """Negative exact marginal log likelihood per point (incl. priors) at the current
        hyperparameters on (x, y)."""
        x, y = self._tensor(x), self._tensor(y).reshape(-1)
        self.model.set_train_data(x, y, strict=False)
        self.model.train()
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(self.model.likelihood, self.model)
        with torch.no_grad(), _exact_settings():
            val = float(-mll(self.model(x), y))
        self.model.eval()
        return val

    # --- kernel in closed form ---------------------------------------------------------------
    def _k(self, a: torch.Tensor, b: torch.Tensor, diag: bool = False) -> torch.Tensor:
        """The gpytorch covar_module's matrix, computed in closed form from its hyperparameters
        (identical values, far less per-call overhead; checked against gpytorch in the tests)."""
        k = self.model.covar_module
        if self.kind == "matern_linear":
            lin, scaled = k.kernels[0], k.kernels[1]
            ls = scaled.base_kernel.lengthscale.reshape(-1)
            if diag:
                d2 = torch.zeros(len(a), dtype=a.dtype, device=a.device)
                dot = (a * a).sum(-1)
            else:
                d2 = _sqdist(a / ls, b / ls)
                dot = a @ b.T
            r = torch.sqrt(torch.clamp(d2, min=1e-30)) * math.sqrt(3.0)
            return lin.variance.reshape(()) * dot + scaled.outputscale * (1.0 + r) * torch.exp(-r)
        ls = k.base_kernel.lengthscale.reshape(-1)
        if diag:
            return k.outputscale * torch.ones(len(a), dtype=a.dtype, device=a.device)
        return k.outputscale * torch.exp(-0.5 * _sqdist(a / ls, b / ls))

    def _loss_backward(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Negative exact marginal log likelihood plus the noise prior, per point (the value
        of gpytorch's ExactMarginalLogLikelihood, negated), and its gradient accumulated into
        the hyperparameters' ``.grad``.

        The gradient uses the closed form dL/dK = (K^-1 - alpha alpha^T) / (2n) and
        backpropagates only through the kernel, which is cheaper than autograd through the
        Cholesky factorisation.
        """
        n = len(y)
        eye = torch.eye(n, dtype=self.dtype, device=self.device)
        noise = self.model.likelihood.noise.reshape(())
        const = self.model.mean_module.constant.reshape(())
        K = self._k(x, x) + noise * eye
        with torch.no_grad():
            L = torch.linalg.cholesky(K)
            r = (y - const).unsqueeze(-1)
            alpha = torch.cholesky_solve(r, L)
            nll = 0.5 * float((r * alpha).sum()) + float(torch.log(torch.diagonal(L)).sum())
            nll += 0.5 * n * math.log(2 * math.pi)
            G = (torch.cholesky_inverse(L) - alpha @ alpha.T) / (2 * n)
            g_const = -alpha.sum() / n
        prior = sum(pr.log_prob(closure(mod)).sum()
                    for _, mod, pr, closure, _ in self.model.named_priors()) / n
        surrogate = (K * G).sum() + const * g_const - prior
        surrogate.backward()
        return nll / n - float(prior.detach())

    # --- posterior --------------------------------------------------------------------------

    def condition(self, x, y) -> None:
        """Cache the Cholesky posterior on all (x, y) at the current hyperparameters."""
        x, y = self._tensor(x), self._tensor(y).reshape(-1)
        with torch.no_grad():
            K = self._k(x, x)
            noise = self.model.likelihood.noise.reshape(())
            K = K + noise * torch.eye(len(x), dtype=self.dtype, device=self.device)
            jitter = 0.0
            for _ in range(6):
                L, info = torch.linalg.cholesky_ex(
                    K + jitter * torch.eye(len(x), dtype=self.dtype, device=self.device)
                )
                if int(info) == 0:
                    break
                jitter = 1e-8 if jitter == 0 else jitter * 10
            else:
                raise RuntimeError("GP covariance is not positive definite even with jitter")
            m0 = self.model.mean_module.constant.reshape(())
            alpha = torch.cholesky_solve((y - m0).unsqueeze(-1), L).squeeze(-1)
        self._x, self._L, self._alpha = x, L, alpha

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


def _sqdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances, clamped at 0 (centred for round-off)."""
    c = a.mean(0, keepdim=True)
    a, b = a - c, b - c
    d2 = (a * a).sum(-1, keepdim=True) - 2 * a @ b.T + (b * b).sum(-1).unsqueeze(0)
    return torch.clamp(d2, min=0.0)


class _exact_settings:
    """Cholesky for everything (no CG / Lanczos), as exact as possible."""

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
