"""GP internals: closed-form kernel == gpytorch, fit quality, warm starts, chunked prediction."""

import gpytorch
import numpy as np
import torch

from carbs._gp import _Objective
from carbs.surrogate import GaussianProcess, exact_settings, fit_subsample

CPU = torch.device("cpu")


def _neg_mll(gp, x, y) -> float:
    """gpytorch's own negative exact marginal log likelihood per point (with the priors) at
    the GP's current hyperparameters: the quantity GaussianProcess.fit minimises."""
    xt, yt = torch.tensor(x), torch.tensor(y)
    gp.model.set_train_data(xt, yt, strict=False)
    gp.model.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(gp.model.likelihood, gp.model)
    with torch.no_grad(), exact_settings():
        val = float(-mll(gp.model(xt), yt))
    gp.model.eval()
    return val


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.5, size=(n, d))
    y = np.sin(2 * x).sum(1) + 0.05 * rng.normal(size=n)
    return x, (y - y.mean()) / y.std()


def test_closed_form_kernel_loss_and_gradient_match_gpytorch():
    for kind, d in (("matern_linear", 4), ("rbf", 1)):
        gp = GaussianProcess(kind, d, 0.3, CPU)
        x, y = _data(20, d)
        x[5] = x[4]  # a resample: zero distance, where the Matern gradient needs care
        gp.fit(x, y, max_iter=5)  # move away from the initial values
        a, b = torch.tensor(x[:7]), torch.tensor(x[7:])
        ref = gp.model.covar_module(a, b).to_dense()
        assert torch.allclose(gp._k(a, b), ref, atol=1e-10)
        assert torch.allclose(gp._k(a, a, diag=True), gp.model.covar_module(a, diag=True),
                              atol=1e-10)
        named, _ = gp._trainable()
        flat = torch.cat([p.detach().reshape(-1) for _, p in named]).numpy()
        own, grad = _Objective(gp, named, x, y)(flat)
        # gpytorch's MLL, differentiated by autograd, at the same hyperparameters
        xt, yt = torch.tensor(x), torch.tensor(y)
        gp.model.set_train_data(xt, yt, strict=False)
        gp.model.train()
        for _, p in named:
            p.grad = None
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(gp.model.likelihood, gp.model)
        with exact_settings():
            loss = -mll(gp.model(xt), yt)
        loss.backward()
        gp.model.eval()
        assert abs(own - float(loss)) < 1e-8
        auto = torch.cat([p.grad.reshape(-1) for _, p in named]).numpy()
        assert np.allclose(grad, auto, rtol=1e-6, atol=1e-9), (kind, grad, auto)


def test_warm_fit_is_at_least_as_good_as_cold_fit():
    x, y = _data(80, 5)
    warm = GaussianProcess("matern_linear", 5, 0.3, CPU)
    warm.fit(x[:70], y[:70], max_iter=50)
    info_warm = warm.fit(x, y, max_iter=50)
    cold = GaussianProcess("matern_linear", 5, 0.3, CPU)
    info_cold = cold.fit(x, y, max_iter=50)
    assert _neg_mll(warm, x, y) <= _neg_mll(cold, x, y) + 1e-3
    assert info_warm["evals"] <= info_cold["evals"]
    # refitting converged hyperparameters on the same data stops almost at once
    again = warm.fit(x, y, max_iter=50)
    assert again["evals"] <= 3


def test_fit_beats_initial_hyperparameters_and_predicts():
    x, y = _data(60, 3)
    gp = GaussianProcess("matern_linear", 3, 0.3, CPU)
    before = _neg_mll(gp, x, y)
    gp.fit(x, y)
    assert _neg_mll(gp, x, y) < before
    gp.condition(x, y)
    xt, yt = _data(200, 3, seed=1)
    m1, v1 = gp.predict(xt, chunk=1000)
    m2, v2 = gp.predict(xt, chunk=17)
    assert torch.allclose(m1, m2) and torch.allclose(v1, v2)
    assert np.corrcoef(m1.numpy(), yt)[0, 1] > 0.8
    # agrees with gpytorch's own posterior
    gp.model.set_train_data(torch.tensor(x), torch.tensor(y), strict=False)
    gp.model.eval()
    with torch.no_grad(), gpytorch.settings.max_cholesky_size(10**6):
        ref = gp.model(torch.tensor(xt))
    assert torch.allclose(m1, ref.mean, atol=1e-5)
    assert torch.allclose(v1, ref.variance, atol=1e-5)


def test_fit_subsample_is_stable_as_data_grows():
    a = set(fit_subsample(1000, 300, 0).tolist())
    b = set(fit_subsample(1001, 300, 0).tolist())
    assert len(a) == len(b) == 300 and len(a & b) >= 299
    assert fit_subsample(50, 300, 0).tolist() == list(range(50))
