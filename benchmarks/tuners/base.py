"""The benchmark problem contract (BoTorch style: every problem states its optimum / front).

All problems are minimised. A problem evaluates one configuration and returns the observed
(possibly noisy) output, the cost charged for it, and the noise-free output used to score
tuners honestly.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.tuners.space import Dim, center_config, check_config


@dataclass(frozen=True)
class Evaluation:
    """Result of evaluating one configuration.

    Attributes:
        output: observed objective (noisy); NaN when the trial failed.
        cost: cost charged for the trial (> 0), also when it failed.
        noise_free: expected output at this configuration (what regret is scored on);
            for real tasks without a noise model, the observed output; NaN on failure.
        metrics: other numbers, written as ``metric.<name>`` columns.
        error: failure message ("" when the trial succeeded).
    """

    output: float
    cost: float
    noise_free: float
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""

    @property
    def failed(self) -> bool:
        """True when the trial failed (error set or non-finite output)."""
        return bool(self.error) or not math.isfinite(self.output)


@dataclass(frozen=True)
class Budget:
    """Stopping rule for one tuner run: cumulative cost `cost` or `max_trials`, first reached."""

    cost: float
    max_trials: int

    def __post_init__(self) -> None:
        if not (self.cost > 0 and math.isfinite(self.cost)):
            raise ValueError(f"Budget.cost must be a positive finite number, got {self.cost}")
        if self.max_trials < 1:
            raise ValueError(f"Budget.max_trials must be >= 1, got {self.max_trials}")


class Problem(ABC):
    """A benchmark problem. Subclasses set the class attributes and implement `_evaluate`.

    Attributes:
        name: registry name.
        dims: the search space.
        cost_aware: True when cost varies with the configuration (Pareto-front metrics apply).
        optimal_value: minimum noise-free output over the box, or None if unknown.
        target: output counted as "reached" for the cost-to-target metric.
        cost_window: (low, high) costs over which the found front is compared with the
            reference front (cost-aware problems only).
        budget / quick_budget: default budgets of the full and the --quick setting.
        default: a stated "typical default" configuration; None means the box center.
        cost_unit: what the cost column measures.
    """

    name: str = ""
    dims: tuple[Dim, ...] = ()
    cost_aware: bool = False
    optimal_value: float | None = None
    target: float | None = None
    cost_window: tuple[float, float] | None = None
    budget: Budget = Budget(1.0, 1)
    quick_budget: Budget = Budget(1.0, 1)
    default: dict[str, Any] | None = None
    cost_unit: str = "trials"

    def search_center(self) -> dict[str, Any]:
        """Starting point given to every tuner: the stated default or the box center."""
        if self.default is not None:
            return check_config(self.dims, dict(self.default))
        return center_config(self.dims)

    def evaluate(self, config: dict[str, Any], rng: np.random.Generator) -> Evaluation:
        """Validate `config` (clip to bounds, round integers) and evaluate it."""
        return self._evaluate(check_config(self.dims, config), rng)

    @abstractmethod
    def _evaluate(self, config: dict[str, Any], rng: np.random.Generator) -> Evaluation:
        """Evaluate an already validated configuration."""

    def reference_front(self, costs: np.ndarray) -> np.ndarray | None:
        """Best achievable noise-free output at each cost (inf where unreachable).

        None when unknown (the report then uses the pooled best front over all tuners).
        """
        return None

    def center_value(self) -> float:
        """Noise-free output of the search center (every tuner's first point; RNG seed 0)."""
        return float(self.evaluate(self.search_center(), np.random.default_rng(0)).noise_free)

    def describe(self) -> str:
        """One line for logs and the README table."""
        opt = "unknown" if self.optimal_value is None else f"{self.optimal_value:.6g}"
        return f"{self.name}: {len(self.dims)} dims, cost-aware={self.cost_aware}, optimum={opt}"
