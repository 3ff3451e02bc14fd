"""Standard synthetic functions (Branin, Hartmann-6, 10-D Rosenbrock), with and without cost.

Cost-free variants: deterministic, cost 1 per trial; tuners are compared at equal trial count.

Cost-aware variants add a ``fidelity`` parameter s in [0.01, 1] (log scale), cost = s (in units
of one full evaluation). Lower fidelity is cheaper but worse in three ways, as with training on
less data or for fewer steps:

    expected output  y(x, s) = f(x - shift * (1 - s)) + bias * (1 - s)
    observed output  y(x, s) + N(0, (sigma / sqrt(s))^2)

The shift moves the optimum at low fidelity (so cheap runs only approximately locate it), the
bias makes every cheap run worse than the optimum, and noise falls like averaging over s. Because
a shifted optimiser stays inside the box for every s, the reference front is exactly
``f* + bias * (1 - s)`` at cost s (checked by brute force in tests/benchmarks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.tuners.base import Budget, Evaluation, Problem
from benchmarks.tuners.space import Dim

_HART_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_HART_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_HART_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def branin(x: np.ndarray) -> np.ndarray:
    """Branin-Hoo on [-5, 10] x [0, 15]; x has shape (..., 2). Minimum 0.397887 (3 minimisers)."""
    x1, x2 = x[..., 0], x[..., 1]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10


def hartmann6(x: np.ndarray) -> np.ndarray:
    """Hartmann-6 on [0, 1]^6; x has shape (..., 6). Minimum -3.32237."""
    inner = np.sum(_HART_A * (x[..., None, :] - _HART_P) ** 2, axis=-1)
    return -np.sum(_HART_ALPHA * np.exp(-inner), axis=-1)


def rosenbrock(x: np.ndarray) -> np.ndarray:
    """Rosenbrock in any dimension; x has shape (..., d). Minimum 0 at (1, ..., 1)."""
    return np.sum(100.0 * (x[..., 1:] - x[..., :-1] ** 2) ** 2 + (1 - x[..., :-1]) ** 2, axis=-1)


_FUNCTIONS: dict[
    str, tuple[Callable[[np.ndarray], np.ndarray], list[tuple[float, float]], float]
] = {
    "branin": (branin, [(-5.0, 10.0), (0.0, 15.0)], 0.397887357729738),
    "hartmann6": (hartmann6, [(0.0, 1.0)] * 6, -3.32236801141551),
    "rosenbrock10": (rosenbrock, [(-5.0, 10.0)] * 10, 0.0),
}

# Per function: target margin above f* (cost-free / cost-aware), trial caps, and the cost-aware
# settings (bias, noise, shift per dimension). Budgets are stated in the README table.
_SETTINGS: dict[str, dict[str, Any]] = {
    "branin": {
        "margin": 0.1,
        "trials": 40,
        "quick_trials": 8,
        "bias": 2.0,
        "sigma": 0.05,
        "shift": [1.0, -1.0],
    },
    "hartmann6": {
        "margin": 0.3,
        "trials": 60,
        "quick_trials": 8,
        "bias": 0.5,
        "sigma": 0.02,
        "shift": 0.1,
    },
    "rosenbrock10": {
        "margin": 1000.0,
        "trials": 60,
        "quick_trials": 8,
        "bias": 20.0,
        "sigma": 1.0,
        "shift": 0.3,
    },
}

FIDELITY_MIN = 0.01


def _dims(fn_name: str) -> tuple[Dim, ...]:
    bounds = _FUNCTIONS[fn_name][1]
    return tuple(Dim(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(bounds))


class SyntheticProblem(Problem):
    """A cost-free synthetic function: deterministic output, cost 1 per trial."""

    def __init__(self, fn_name: str) -> None:
        if fn_name not in _FUNCTIONS:
            raise ValueError(f"unknown function {fn_name!r}; choose from {sorted(_FUNCTIONS)}")
        self.fn, _, self.optimal_value = _FUNCTIONS[fn_name]
        s = _SETTINGS[fn_name]
        self.name = fn_name
        self.dims = _dims(fn_name)
        self.cost_aware = False
        self.target = self.optimal_value + s["margin"]
        self.budget = Budget(float(s["trials"]), s["trials"])
        self.quick_budget = Budget(float(s["quick_trials"]), s["quick_trials"])
        self.cost_unit = "trials"

    def _evaluate(self, config: dict[str, Any], rng: np.random.Generator) -> Evaluation:
        x = np.array([config[d.name] for d in self.dims], dtype=float)
        y = float(self.fn(x))
        return Evaluation(output=y, cost=1.0, noise_free=y)

    def reference_front(self, costs: np.ndarray) -> np.ndarray:
        """Constant cost: the optimum is reachable at cost 1."""
        costs = np.asarray(costs, dtype=float)
        return np.where(costs >= 1.0, self.optimal_value, np.inf)


class FidelityProblem(Problem):
    """A synthetic function extended with a cost ("fidelity") dimension; see the module doc.

    Args:
        fn_name: branin | hartmann6 | rosenbrock10.
        fidelity_min: the lowest fidelity in the box (default 0.01). The cost window scored
            stays [0.01, 1], so a lower minimum makes the box wider than the costs that matter.
        start_fidelity: the search center's fidelity (default: the box center, geometric mid).
        name: registry name (default ``<fn_name>-cost``).
    """

    def __init__(self, fn_name: str, fidelity_min: float = FIDELITY_MIN,
                 start_fidelity: float | None = None, name: str | None = None) -> None:
        if fn_name not in _FUNCTIONS:
            raise ValueError(f"unknown function {fn_name!r}; choose from {sorted(_FUNCTIONS)}")
        if not 0.0 < fidelity_min <= FIDELITY_MIN:
            raise ValueError(f"fidelity_min must be in (0, {FIDELITY_MIN}], got {fidelity_min}")
        self.fn, _, self.optimal_value = _FUNCTIONS[fn_name]
        s = _SETTINGS[fn_name]
        self.name = name or f"{fn_name}-cost"
        base = _dims(fn_name)
        self.fidelity_min = float(fidelity_min)
        self.dims = base + (Dim("fidelity", self.fidelity_min, 1.0, log=True),)
        if start_fidelity is not None:
            self.default = {**{d.name: d.center() for d in base}, "fidelity": start_fidelity}
        self.shift = np.broadcast_to(np.asarray(s["shift"], dtype=float), (len(base),)).copy()
        self.bias = float(s["bias"])
        self.sigma = float(s["sigma"])
        self.cost_aware = True
        # Target: within `margin` of f* plus a quarter of the bias (needs fidelity >= ~0.75).
        self.target = self.optimal_value + s["margin"] + 0.25 * self.bias
        # Cost budget: the trial cap's worth of evaluations at fidelity 0.25 (random search
        # spends ~0.21 per trial on average); a trial cap of 2.5x the cost-free one.
        self.budget = Budget(0.25 * s["trials"], int(2.5 * s["trials"]))
        self.quick_budget = Budget(0.25 * s["quick_trials"], int(1.5 * s["quick_trials"]))
        self.cost_window = (FIDELITY_MIN, 1.0)
        self.cost_unit = "full evaluations"

    def expected(self, x: np.ndarray, fidelity: np.ndarray | float) -> np.ndarray:
        """Noise-free output; x has shape (..., d), fidelity broadcasts against x[..., 0]."""
        s = np.asarray(fidelity, dtype=float)
        return self.fn(x - self.shift * (1.0 - s)[..., None]) + self.bias * (1.0 - s)

    def _evaluate(self, config: dict[str, Any], rng: np.random.Generator) -> Evaluation:
        x = np.array([config[d.name] for d in self.dims[:-1]], dtype=float)
        s = float(config["fidelity"])
        mean = float(self.expected(x, s))
        y = mean + float(rng.normal(0.0, self.sigma / math.sqrt(s)))
        return Evaluation(output=y, cost=s, noise_free=mean, metrics={"fidelity": s})

    def reference_front(self, costs: np.ndarray) -> np.ndarray:
        """f* + bias * (1 - s) with s = min(cost, 1); inf below the lowest fidelity."""
        c = np.asarray(costs, dtype=float)
        s = np.minimum(c, 1.0)
        front = self.optimal_value + self.bias * (1.0 - s)
        return np.where(c >= self.fidelity_min * (1 - 1e-12), front, np.inf)
