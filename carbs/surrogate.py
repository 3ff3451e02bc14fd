"""The CARBS surrogate models and their fitting.

- output model: exact GP (Linear + Matern 3/2 ARD) on quantile-warped, signed outputs
  (``QuantileTransformer(output_distribution="normal")`` with about sqrt(n) quantiles);
- cost model: the same GP on log(cost) min-max scaled to [-1, 1];
- Pareto model: a 1-D RBF GP of warped output against scaled log-cost, on the Pareto groups;
- success model (only when failures exist): a Laplace-approximation GP classifier
  (scikit-learn ``GaussianProcessClassifier``, Matern 3/2 ARD) giving P(success);
- fantasies: outstanding suggestions join the output model's training set with a Thompson
  sample (default) or the posterior mean of the output model as their output.

Hyperparameters persist between calls (warm starts); fits run on a stable subsample of at most
``max_fit_points`` points, the posteriors condition on all points.

The GP itself (:class:`GaussianProcess`) and the gpytorch settings for exact algebra
(:class:`exact_settings`) live in ``carbs._gp`` and are re-exported here, the public home of the
model layer (the latency benchmark builds its reference procedure from them).
"""

from __future__ import annotations

import logging
import math
import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessClassifier
from sklearn.gaussian_process.kernels import ConstantKernel, Matern
from sklearn.preprocessing import QuantileTransformer

from carbs._gp import GaussianProcess, exact_settings

logger = logging.getLogger("carbs")

__all__ = [
    "CostScaler",
    "GaussianProcess",
    "OutputWarp",
    "SuccessModel",
    "SurrogateSet",
    "exact_settings",
    "fit_subsample",
    "startup_cost_prediction",
]


class OutputWarp:
    """Signed outputs -> standard-normal scores by a quantile transform (about sqrt(n) quantiles)."""

    def __init__(self, signed_outputs: np.ndarray):
        y = np.asarray(signed_outputs, dtype=np.float64).reshape(-1, 1)
        n_q = max(2, int(np.sqrt(len(y))))
        self.qt = QuantileTransformer(n_quantiles=min(n_q, len(y)), output_distribution="normal")
        self.qt.fit(y)

    def __call__(self, signed_outputs: np.ndarray) -> np.ndarray:
        y = np.asarray(signed_outputs, dtype=np.float64).reshape(-1, 1)
        return self.qt.transform(y).reshape(-1)

    def inverse(self, warped: np.ndarray) -> np.ndarray:
        """Warped scores back to signed outputs (clamped to the observed range)."""
        w = np.asarray(warped, dtype=np.float64).reshape(-1, 1)
        return self.qt.inverse_transform(w).reshape(-1)


class CostScaler:
    """log(cost) min-max scaled to [-1, 1] (and back)."""

    def __init__(self, costs: np.ndarray):
        lc = np.log(np.asarray(costs, dtype=np.float64))
        self.lo, self.hi = float(lc.min()), float(lc.max())
        if self.hi - self.lo < 1e-12:
            self.lo, self.hi = self.lo - 0.5, self.hi + 0.5

    def __call__(self, costs: np.ndarray) -> np.ndarray:
        lc = np.log(np.asarray(costs, dtype=np.float64))
        return 2.0 * (lc - self.lo) / (self.hi - self.lo) - 1.0

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        s = np.asarray(scaled, dtype=np.float64)
        return np.exp((s + 1.0) / 2.0 * (self.hi - self.lo) + self.lo)


def startup_cost_prediction(x_ok: np.ndarray, cost_ok: np.ndarray, x: np.ndarray,
                            radius: float, device: torch.device,
                            max_iter: int = 50) -> np.ndarray | None:
    """The cost predicted at rows ``x`` by a cost model (the cost GP's kind) fitted afresh on
    the successful observations ``x_ok``, ``cost_ok``; None with fewer than two distinct
    costs (nothing to learn from). For the start-up samples, before the surrogates are fitted;
    a model of its own, so that the warm-started cost GP of the search does not start from a
    fit on a handful of points."""
    lc = np.log(np.asarray(cost_ok, dtype=np.float64))
    if len(lc) < 2 or np.ptp(lc) < 1e-12:
        return None
    scaler = CostScaler(cost_ok)
    gp = GaussianProcess("matern_linear", x_ok.shape[1], radius, device)
    y = scaler(cost_ok)
    gp.fit(x_ok, y, max_iter)
    gp.condition(x_ok, y)
    mean, _ = gp.predict(x, with_var=False)
    return scaler.inverse(mean.cpu().numpy())


def fit_subsample(n: int, max_points: int, seed: int) -> np.ndarray:
    """A stable subsample of range(n) of size <= max_points.

    Each index gets a fixed random priority from a seeded stream (prefix-stable as n grows), so
    consecutive calls share almost all fitting points and warm starts stay converged.
    """
    if n <= max_points:
        return np.arange(n)
    prio = np.random.default_rng(seed).random(n)
    return np.sort(np.argsort(prio, kind="stable")[:max_points])


class SuccessModel:
    """P(success) from a Laplace-approximation GP classifier (Matern 3/2 ARD), warm-started."""

    def __init__(self, dim: int, radius: float):
        self.dim = dim
        self.theta: list[float] | None = None
        self.radius = radius
        self.clf: GaussianProcessClassifier | None = None

    def _kernel(self):
        k = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
            length_scale=np.full(self.dim, self.radius), length_scale_bounds=(1e-2, 1e3), nu=1.5
        )
        if self.theta is not None:
            k = k.clone_with_theta(np.asarray(self.theta))
        return k

    def fit(self, x: np.ndarray, success: np.ndarray) -> None:
        """Fit on inputs and boolean success labels (needs both classes)."""
        t0 = time.perf_counter()
        clf = GaussianProcessClassifier(kernel=self._kernel(), n_restarts_optimizer=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(np.asarray(x), np.asarray(success, dtype=int))
        self.clf = clf
        self.theta = [float(t) for t in clf.kernel_.theta]
        logger.debug("success model fit: n=%d %.3fs", len(x), time.perf_counter() - t0)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """P(success) for each row."""
        assert self.clf is not None
        return self.clf.predict_proba(np.asarray(x))[:, 1]


@dataclass
class Predictions:
    """Per-candidate predictions (numpy arrays)."""

    output_mean: np.ndarray  # warped, larger is better
    output_std: np.ndarray
    log_cost_scaled: np.ndarray
    cost: np.ndarray
    p_success: np.ndarray


class SurrogateSet:
    """Holds the models between suggest calls (warm starts) and fits/predicts them."""

    def __init__(self, dim: int, radius: float, device: torch.device, max_fit_points: int,
                 fit_max_iter: int, seed: int, fit_warm_max_iter: int | None = None,
                 max_fit_skips: int = 0):
        self.dim, self.radius, self.device = dim, radius, device
        self.max_fit_skips = max_fit_skips
        self._fit_key: tuple[float, float] | None = None  # the last fit's log-cost range
        self._skips = 0  # calls since the last fit
        self.max_fit_points, self.fit_max_iter, self.seed = max_fit_points, fit_max_iter, seed
        self.fit_warm_max_iter = fit_warm_max_iter
        self.output_gp = GaussianProcess("matern_linear", dim, radius, device)
        self.cost_gp = GaussianProcess("matern_linear", dim, radius, device)
        self.pareto_gp = GaussianProcess("rbf", 1, 0.5, device)
        self.success = SuccessModel(dim, radius)
        self.has_success_model = False
        self.warp: OutputWarp | None = None
        self.cost_scaler: CostScaler | None = None
        self._x_out: np.ndarray | None = None
        self._y_out: np.ndarray | None = None
        self.pareto_x_range = (0.0, 0.0)

    # --- persistence of warm starts -----------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        return {
            "output": self.output_gp.hyperparameters(),
            "cost": self.cost_gp.hyperparameters(),
            "pareto": self.pareto_gp.hyperparameters(),
            "success_theta": self.success.theta,
        }

    def set_hyperparameters(self, hp: dict[str, Any]) -> None:
        self.output_gp.set_hyperparameters(hp.get("output", {}))
        self.cost_gp.set_hyperparameters(hp.get("cost", {}))
        self.pareto_gp.set_hyperparameters(hp.get("pareto", {}))
        self.success.theta = hp.get("success_theta")

    # --- fitting ------------------------------------------------------------------------------
    def fit(self, x_ok: np.ndarray, signed_out: np.ndarray, cost_ok: np.ndarray,
            x_all: np.ndarray, success_all: np.ndarray,
            pareto_signed_out: np.ndarray, pareto_cost: np.ndarray) -> dict[str, float]:
        """Fit all models. ``x_ok``/``signed_out``/``cost_ok``: successful observations;
        ``x_all``/``success_all``: every observation; ``pareto_*``: the Pareto groups' means."""
        times: dict[str, float] = {}
        self.warp = OutputWarp(signed_out)
        y_w = self.warp(signed_out)
        self.cost_scaler = CostScaler(cost_ok)
        c_s = self.cost_scaler(cost_ok)
        sub = fit_subsample(len(x_ok), self.max_fit_points, self.seed)

        refit = self._refit(len(x_ok))
        times["skipped_fits"] = float(not refit)

        t = time.perf_counter()
        if refit:
            self.output_gp.fit(x_ok[sub], y_w[sub], self.fit_max_iter, self.fit_warm_max_iter)
        self.output_gp.condition(x_ok, y_w)
        self._x_out, self._y_out = x_ok, y_w
        times["output"] = time.perf_counter() - t

        t = time.perf_counter()
        if refit:
            self.cost_gp.fit(x_ok[sub], c_s[sub], self.fit_max_iter, self.fit_warm_max_iter)
        self.cost_gp.condition(x_ok, c_s)
        times["cost"] = time.perf_counter() - t

        t = time.perf_counter()
        px = self.cost_scaler(pareto_cost).reshape(-1, 1)
        py = self.warp(pareto_signed_out)
        self.pareto_gp.fit(px, py, self.fit_max_iter, self.fit_warm_max_iter)
        self.pareto_gp.condition(px, py)
        self.pareto_x_range = (float(px.min()), float(px.max()))
        times["pareto"] = time.perf_counter() - t

        self.has_success_model = bool((~success_all).any())
        if self.has_success_model:
            t = time.perf_counter()
            fail = np.flatnonzero(~success_all)
            ok = np.flatnonzero(success_all)
            if len(x_all) > self.max_fit_points:  # keep every failure, subsample successes
                keep = max(self.max_fit_points - len(fail), 1)
                ok = ok[fit_subsample(len(ok), keep, self.seed + 1)]
            idx = np.sort(np.concatenate([fail, ok]))
            self.success.fit(x_all[idx], success_all[idx])
            times["success"] = time.perf_counter() - t
        return times

    def _refit(self, n: int) -> bool:
        """Whether this call fits the output and cost GPs' hyperparameters. Always, up to
        ``max_fit_points`` observations. Beyond, the fit of the last call is kept for up to
        ``max_fit_skips`` calls in a row, unless the log-cost range moved by a tenth of its
        span since: between calls the data grow by one point in several hundred (fitted on a
        subsample of ``max_fit_points``), and the posterior, conditioned on every point, is
        then extended by the new rows rather than refactored."""
        assert self.cost_scaler is not None
        key = (self.cost_scaler.lo, self.cost_scaler.hi)
        moved = (math.inf if self._fit_key is None else
                 max(abs(key[0] - self._fit_key[0]), abs(key[1] - self._fit_key[1]))
                 / (self._fit_key[1] - self._fit_key[0]))
        if (n > self.max_fit_points and moved < 0.1 and self._skips < self.max_fit_skips
                and self.output_gp.is_warm and self.cost_gp.is_warm):
            self._skips += 1
            return False
        self._fit_key, self._skips = key, 0
        return True

    def add_fantasies(self, x_out: np.ndarray, generator: torch.Generator, use_mean: bool) -> None:
        """Condition the output model on outstanding points with fantasy outputs."""
        if len(x_out) == 0:
            return
        assert self._x_out is not None and self._y_out is not None
        self.output_gp.condition(self._x_out, self._y_out)  # sample from the real-data posterior
        fant = self.output_gp.sample_joint(x_out, generator, use_mean=use_mean).cpu().numpy()
        self.output_gp.condition(np.vstack([self._x_out, x_out]),
                                 np.concatenate([self._y_out, fant]))

    # --- prediction ---------------------------------------------------------------------------
    def predict_cost(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scaled log-cost, cost) predicted at candidate rows (the cost model's mean)."""
        cm, _ = self.cost_gp.predict(x, with_var=False)
        cm = cm.cpu().numpy()
        assert self.cost_scaler is not None
        return cm, self.cost_scaler.inverse(cm)

    def predict_cost_quantile(self, x: np.ndarray, q: float
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`predict_cost` and the ``q`` quantile of the cost at candidate rows, from one
        pass of the cost model: its posterior is normal in scaled log-cost, so the quantile is
        the inverse-scaled mean + z_q sd."""
        cm, var = self.cost_gp.predict(x, with_var=True)
        assert self.cost_scaler is not None and var is not None
        cm = cm.cpu().numpy()
        z = statistics.NormalDist().inv_cdf(q)
        sd = np.sqrt(np.clip(var.cpu().numpy(), 0.0, None))
        return cm, self.cost_scaler.inverse(cm), self.cost_scaler.inverse(cm + z * sd)

    def predict(self, x: np.ndarray, log_cost_scaled: np.ndarray | None = None,
                cost: np.ndarray | None = None) -> Predictions:
        """Predict output (warped), cost and P(success) at candidate rows (the cost from
        :meth:`predict_cost` when given)."""
        mu, var = self.output_gp.predict(x)
        if log_cost_scaled is None or cost is None:
            log_cost_scaled, cost = self.predict_cost(x)
        p = self.success.predict(x) if self.has_success_model else np.ones(len(x))
        return Predictions(mu.cpu().numpy(), np.sqrt(var.cpu().numpy()), log_cost_scaled,
                           cost, p)

    def pareto_value(self, log_cost_scaled: np.ndarray) -> np.ndarray:
        """Pareto model mean at scaled log-cost, clamped to the front's cost range."""
        lo, hi = self.pareto_x_range
        c = np.clip(np.asarray(log_cost_scaled, dtype=np.float64), lo, hi).reshape(-1, 1)
        m, _ = self.pareto_gp.predict(c, with_var=False)
        return m.cpu().numpy()
