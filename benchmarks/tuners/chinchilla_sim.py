"""A Chinchilla-law training simulator: the cost-aware problem CARBS was designed for.

Parameters: width, depth, tokens, learning rate, warm-up fraction, weight decay.

    N    = 12 * depth * width^2                      (non-embedding parameters)
    D    = tokens
    loss = E + A / N^alpha + B / D^beta              (Epoch AI's refit of Chinchilla's law,
           scaling.chinchilla.EPOCH_REFIT: ln A = 6.1699, ln B = 7.6698, ln E = 0.5973,
           alpha = 0.3473, beta = 0.3672)
         + 0.05 * ln(lr / lr_opt(N))^2               (lr_opt(N) = 3e-3 * (N / 1e8)^-0.25)
         + 1.0 * (warmup - w_opt(N))^2               (w_opt(N) = clip(0.02 (N/1e8)^0.2, .005, .2))
         + 0.5 * (weight_decay - 0.1)^2
         + N(0, 0.01^2)                              (seed noise)
    cost = 6 N D                                     (training FLOPs)

A learning rate above 10 * lr_opt(N) diverges: the trial fails (output NaN) and its full cost
is charged. The reference front is the compute-optimal loss with zero penalties: for each cost C,
min over N of E + A/N^alpha + B/(C/6N)^beta with N and D = C/(6N) inside the box (N treated as
continuous, so the front is a lower bound on what integer width/depth can reach).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from benchmarks.tuners.base import Budget, Evaluation, Problem
from benchmarks.tuners.space import Dim
from scaling.chinchilla import EPOCH_REFIT

#: The simulator's loss law (Epoch AI's refit of Chinchilla's).
LAW = EPOCH_REFIT
NOISE_SD = 0.01
DIVERGENCE_FACTOR = 10.0


def n_params(width: np.ndarray | float, depth: np.ndarray | float) -> np.ndarray | float:
    """Non-embedding parameter count of a GPT-style model: 12 * depth * width^2."""
    return 12.0 * np.asarray(depth, dtype=float) * np.asarray(width, dtype=float) ** 2


def chinchilla_loss(n: np.ndarray | float, d: np.ndarray | float) -> np.ndarray | float:
    """L(N, D) = E + A / N^alpha + B / D^beta (Epoch AI refit)."""
    return LAW.loss(np.asarray(n, dtype=float), np.asarray(d, dtype=float))


def lr_opt(n: np.ndarray | float) -> np.ndarray | float:
    """Optimal learning rate; falls with model size."""
    return 3e-3 * (np.asarray(n, dtype=float) / 1e8) ** -0.25


def warmup_opt(n: np.ndarray | float) -> np.ndarray | float:
    """Optimal warm-up fraction; grows with model size."""
    return np.clip(0.02 * (np.asarray(n, dtype=float) / 1e8) ** 0.2, 0.005, 0.2)


def expected_loss(
    width: np.ndarray | float,
    depth: np.ndarray | float,
    tokens: np.ndarray | float,
    lr: np.ndarray | float,
    warmup: np.ndarray | float,
    weight_decay: np.ndarray | float,
) -> np.ndarray:
    """Noise-free loss (vectorised, broadcasting); diverged settings are not masked here."""
    n = n_params(width, depth)
    return (
        chinchilla_loss(n, tokens)
        + 0.05 * np.log(np.asarray(lr, dtype=float) / lr_opt(n)) ** 2
        + 1.0 * (np.asarray(warmup, dtype=float) - warmup_opt(n)) ** 2
        + 0.5 * (np.asarray(weight_decay, dtype=float) - 0.1) ** 2
    )


class ChinchillaProblem(Problem):
    """Simulated LM training with a Chinchilla loss law; see the module docstring."""

    name = "chinchilla"
    dims = (
        Dim("width", 64, 4096, log=True, integer=True),
        Dim("depth", 2, 48, log=True, integer=True),
        Dim("tokens", 1e7, 1e11, log=True),
        Dim("lr", 1e-5, 1.0, log=True),
        Dim("warmup", 0.0, 0.5),
        Dim("weight_decay", 0.0, 0.3),
    )
    cost_aware = True
    cost_window = (1e15, 1e21)
    budget = Budget(1e20, 100)
    quick_budget = Budget(1e19, 12)
    cost_unit = "FLOPs (6ND)"
    #: seed noise (sd of the observed loss around the expected one)
    noise_sd: float = NOISE_SD
    #: a learning rate above this multiple of the optimum diverges
    divergence_factor: float = DIVERGENCE_FACTOR

    def __init__(self) -> None:
        # The box of N and D follows the width, depth and tokens dimensions (variants widen it).
        box = {d.name: d for d in self.dims}
        self.n_min = float(n_params(box["width"].low, box["depth"].low))
        self.n_max = float(n_params(box["width"].high, box["depth"].high))
        self.d_min, self.d_max = float(box["tokens"].low), float(box["tokens"].high)
        self.optimal_value = float(chinchilla_loss(self.n_max, self.d_max))
        # Target: the compute-optimal loss at 1e19 FLOPs (reachable within the default budget).
        self.target = float(self.reference_front(np.array([1e19]))[0])

    def lr_optimum(self, config: dict[str, Any], n: float) -> float:
        """The optimal learning rate of a configuration of N parameters (variants whose other
        parameters move it override this)."""
        return float(lr_opt(n))

    def extra_penalty(self, config: dict[str, Any], n: float) -> float:
        """Loss added by parameters beyond the six of the base simulator (0 here; >= 0 and 0 at
        their optimum in every variant, so the reference front stays the same)."""
        return 0.0

    def expected(self, config: dict[str, Any]) -> tuple[float, float, float]:
        """(noise-free loss, N, D) for a configuration."""
        n = float(n_params(config["width"], config["depth"]))
        d = float(config["tokens"])
        lr_ratio = float(config["lr"]) / self.lr_optimum(config, n)
        loss = (
            float(chinchilla_loss(n, d))
            + 0.05 * math.log(lr_ratio) ** 2
            + 1.0 * (float(config["warmup"]) - float(warmup_opt(n))) ** 2
            + 0.5 * (float(config["weight_decay"]) - 0.1) ** 2
            + self.extra_penalty(config, n)
        )
        return loss, n, d

    def diverges(self, config: dict[str, Any], n: float) -> bool:
        """True when the learning rate is above ``divergence_factor`` times its optimum."""
        return float(config["lr"]) > self.divergence_factor * self.lr_optimum(config, n)

    def _evaluate(self, config: dict[str, Any], rng: np.random.Generator) -> Evaluation:
        mean, n, d = self.expected(config)
        cost = 6.0 * n * d
        metrics = {"params": n, "tokens": d, "flops": cost}
        if self.diverges(config, n):
            return Evaluation(math.nan, cost, math.nan, metrics, error="diverged (lr too high)")
        return Evaluation(mean + float(rng.normal(0.0, self.noise_sd)), cost, mean, metrics)

    def _front_one(self, c: float) -> float:
        return _optimal_loss_at_cost(c, self.n_min, self.n_max, self.d_min, self.d_max)

    def reference_front(self, costs: np.ndarray) -> np.ndarray:
        """Best noise-free loss reachable with a single run of cost <= C (monotone in C)."""
        c = np.asarray(costs, dtype=float)
        vals = np.array([self._front_one(float(ci)) for ci in c.ravel()]).reshape(c.shape)
        # A run cheaper than C is allowed, and the unconstrained optimum sits at the top corner.
        top = 6.0 * self.n_max * self.d_max
        return np.where(c >= top, self.optimal_value, vals)


@lru_cache(maxsize=8192)
def _optimal_loss_at_cost(c: float, n_min: float, n_max: float, d_min: float,
                          d_max: float) -> float:
    """min over N of L(N, C / 6N) with N and D = C / 6N inside the box (inf if none fits).
    Cached: every run of a report asks for the same cost grid."""
    lo = max(n_min, c / (6.0 * d_max))
    hi = min(n_max, c / (6.0 * d_min))
    if lo > hi * (1 + 1e-12):
        return math.inf

    def f(log_n: float) -> float:
        n = math.exp(log_n)
        return float(chinchilla_loss(n, c / (6.0 * n)))

    if hi <= lo:
        return f(math.log(lo))
    # Convex in log N (a sum of exponentials), so a bounded scalar search is exact.
    res = minimize_scalar(
        f, bounds=(math.log(lo), math.log(hi)), method="bounded", options={"xatol": 1e-10}
    )
    return min(float(res.fun), f(math.log(lo)), f(math.log(hi)))
