"""Cost-aware variants of the suite's problems, so that no default is chosen on one shape.

Each variant is a few lines on `ChinchillaProblem` or `FidelityProblem` and states the cost
window its front is scored over (``cost_window``), its budget and its reference front (the base
problem's: every extra parameter costs nothing at its optimum, so the front does not move).

=======================  ========================================================  ============
problem                  what changes (from ``chinchilla`` or ``hartmann6-cost``)  window
=======================  ========================================================  ============
chinchilla-wide          a box of ~13 decades of cost (1.8e10 - 3.1e23 FLOPs),     1e16 - 1e20
                         start at ~6e15, budget 1e21
chinchilla-start-low     the same box, start (1.2e13) a decade below the window    1e14 - 1e18
chinchilla-start-high    the same box, start (3.6e18) near the window's top        1e15 - 1e19
chinchilla-budget10x     the same box, start ~6e15, budget 10x its cost            1e13 - 1e16
chinchilla-budget1000x   the same box, start ~6e15, budget 1000x its cost          1e14 - 1e18
chinchilla-noisy         seed noise sd 0.05 (base: 0.01)                           1e15 - 1e21
chinchilla-20d           14 more parameters, each a quadratic penalty              1e15 - 1e21
chinchilla-lr-cliff      a learning rate above 2x its optimum diverges (base 10x)  1e15 - 1e21
chinchilla-cat           two categoricals: optimizer (4 choices), norm (3)         1e15 - 1e21
hartmann6-cost-wide      fidelity box [1e-8, 1] (base [0.01, 1]), start at 0.1     0.01 - 1
=======================  ========================================================  ============

Windows are in FLOPs (chinchilla) or full evaluations (hartmann6); budgets, trial caps and
starts are in `VARIANTS` below.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.tuners.base import Budget, Problem
from benchmarks.tuners.chinchilla_sim import ChinchillaProblem, lr_opt
from benchmarks.tuners.space import Dim
from benchmarks.tuners.synthetic import FidelityProblem

#: A box of about 13 decades of cost: 6 * 12 * 1 * 16^2 * 1e6 = 1.8e10 to
#: 6 * 12 * 64 * 8192^2 * 1e12 = 3.1e23 FLOPs.
WIDE_DIMS = (
    Dim("width", 16, 8192, log=True, integer=True),
    Dim("depth", 1, 64, integer=True),  # linear: a log scale this narrow cannot reach 1 -> 2
    Dim("tokens", 1e6, 1e12, log=True),
    Dim("lr", 1e-6, 1.0, log=True),
    Dim("warmup", 0.0, 0.5),
    Dim("weight_decay", 0.0, 0.3),
)
_HYPER = {"lr": 3e-3, "warmup": 0.05, "weight_decay": 0.05}
#: ~6.2e15 FLOPs (N = 3.1e6, D = 3.3e8)
START_6E15 = {"width": 256, "depth": 4, "tokens": 3.3e8, **_HYPER}
#: ~1.2e13 FLOPs (N = 9.8e4, D = 2e7)
START_1E13 = {"width": 64, "depth": 2, "tokens": 2e7, **_HYPER}
#: ~3.6e18 FLOPs (N = 2e8, D = 3e9)
START_4E18 = {"width": 1024, "depth": 16, "tokens": 3e9, **_HYPER}


class ChinchillaVariant(ChinchillaProblem):
    """`ChinchillaProblem` with another box, start, window, budget, noise or divergence point.

    The target (cost-to-target metric) is the reference front's value at a tenth of the
    window's top."""

    def __init__(self, name: str, *, cost_window: tuple[float, float], budget: Budget,
                 quick_budget: Budget, dims: tuple[Dim, ...] | None = None,
                 default: dict[str, Any] | None = None, noise_sd: float | None = None,
                 divergence_factor: float | None = None) -> None:
        self.name, self.cost_window = name, cost_window
        self.budget, self.quick_budget = budget, quick_budget
        if dims is not None:
            self.dims = dims
        self.default = default
        if noise_sd is not None:
            self.noise_sd = noise_sd
        if divergence_factor is not None:
            self.divergence_factor = divergence_factor
        super().__init__()
        self.target = float(self.reference_front(np.array([cost_window[1] / 10]))[0])


#: optimizer -> (loss offset, multiple of the AdamW learning-rate optimum)
OPTIMIZERS = {"adamw": (0.0, 1.0), "adam": (0.03, 1.0), "lion": (0.01, 0.3), "sgd": (0.2, 30.0)}
#: norm -> loss offset
NORMS = {"pre-layernorm": 0.0, "rmsnorm": 0.005, "post-layernorm": 0.04}


class ChinchillaCategorical(ChinchillaVariant):
    """chinchilla-cat: + ``optimizer`` (adamw | adam | lion | sgd: a loss offset each, and lion
    and sgd move the learning-rate optimum by x0.3 and x30) and ``norm`` (pre-layernorm |
    rmsnorm | post-layernorm: a loss offset each). Starts at adam + post-layernorm; adamw +
    pre-layernorm add nothing, so the front is the base problem's."""

    def __init__(self) -> None:
        self.dims = ChinchillaProblem.dims + (Dim.categorical("optimizer", tuple(OPTIMIZERS)),
                                              Dim.categorical("norm", tuple(NORMS)))
        start = {d.name: d.center() for d in ChinchillaProblem.dims}
        super().__init__("chinchilla-cat", cost_window=(1e15, 1e21), budget=Budget(1e20, 100),
                         quick_budget=Budget(1e19, 12),
                         default={**start, "optimizer": "adam", "norm": "post-layernorm"})

    def lr_optimum(self, config: dict[str, Any], n: float) -> float:
        return float(lr_opt(n)) * OPTIMIZERS[config["optimizer"]][1]

    def extra_penalty(self, config: dict[str, Any], n: float) -> float:
        return OPTIMIZERS[config["optimizer"]][0] + NORMS[config["norm"]]


N_KNOBS = 14
#: knob k's optimum and the weight of its quadratic penalty (fixed, spread over the unit box)
KNOB_OPTIMA = np.linspace(0.15, 0.85, N_KNOBS)[np.random.default_rng(14).permutation(N_KNOBS)]
KNOB_WEIGHTS = np.geomspace(0.05, 0.5, N_KNOBS)


class Chinchilla20D(ChinchillaVariant):
    """chinchilla-20d: + 14 knobs in [0, 1] (starting at 0.5), knob k adding
    ``KNOB_WEIGHTS[k] * (knob - KNOB_OPTIMA[k])^2`` (about 0.13 in all at the start)."""

    def __init__(self) -> None:
        knobs = tuple(Dim(f"knob{k:02d}", 0.0, 1.0) for k in range(N_KNOBS))
        self.dims = ChinchillaProblem.dims + knobs
        super().__init__("chinchilla-20d", cost_window=(1e15, 1e21), budget=Budget(1e20, 100),
                         quick_budget=Budget(1e19, 12))

    def extra_penalty(self, config: dict[str, Any], n: float) -> float:
        u = np.array([float(config[f"knob{k:02d}"]) for k in range(N_KNOBS)])
        return float(np.sum(KNOB_WEIGHTS * (u - KNOB_OPTIMA) ** 2))


def _variant(name: str, window: tuple[float, float], budget: float, trials: int = 150,
             **kw: Any) -> ChinchillaVariant:
    """A Chinchilla variant whose --quick budget is a hundredth of the cost, 12 trials."""
    return ChinchillaVariant(name, cost_window=window, budget=Budget(budget, trials),
                             quick_budget=Budget(budget / 100, 12), **kw)


VARIANTS: dict[str, Any] = {
    "chinchilla-wide": lambda: _variant("chinchilla-wide", (1e16, 1e20), 1e21, dims=WIDE_DIMS,
                                        default=START_6E15),
    "chinchilla-start-low": lambda: _variant("chinchilla-start-low", (1e14, 1e18), 1e19,
                                             dims=WIDE_DIMS, default=START_1E13),
    "chinchilla-start-high": lambda: _variant("chinchilla-start-high", (1e15, 1e19), 1e20,
                                              dims=WIDE_DIMS, default=START_4E18),
    "chinchilla-budget10x": lambda: _variant("chinchilla-budget10x", (1e13, 1e16), 6.2e16,
                                             dims=WIDE_DIMS, default=START_6E15),
    "chinchilla-budget1000x": lambda: _variant("chinchilla-budget1000x", (1e14, 1e18), 6.2e18,
                                               dims=WIDE_DIMS, default=START_6E15),
    "chinchilla-noisy": lambda: _variant("chinchilla-noisy", (1e15, 1e21), 1e20, trials=100,
                                         noise_sd=0.05),
    "chinchilla-20d": Chinchilla20D,
    "chinchilla-lr-cliff": lambda: _variant("chinchilla-lr-cliff", (1e15, 1e21), 1e20,
                                            trials=100, divergence_factor=2.0),
    "chinchilla-cat": ChinchillaCategorical,
    "hartmann6-cost-wide": lambda: FidelityProblem("hartmann6", fidelity_min=1e-8,
                                                   start_fidelity=0.1, name="hartmann6-cost-wide"),
}


def start_cost(problem: Problem) -> float:
    """The cost of a problem's search center (its first trial)."""
    return float(problem.evaluate(problem.search_center(), np.random.default_rng(0)).cost)


__all__ = ["VARIANTS", "Chinchilla20D", "ChinchillaCategorical", "ChinchillaVariant",
           "start_cost"]
