"""The benchmark problem contract (BoTorch style: every problem states its optimum / front).

All problems are minimised. A problem evaluates one configuration and returns the observed
(possibly noisy) output, the cost charged for it, and the noise-free output used to score
tuners honestly.

Learning curves (for tuners that stop runs early, such as ASHA): ``Problem.learning_curve``
yields `CurvePoint`s, one per reported step, each an `Evaluation` of the run so far (cost = what
the run has spent up to that step); the last point is the run's final evaluation, equal to what
``evaluate`` returns for the same RNG. A tuner that stops the run simply stops iterating and is
charged the cost of the last point it saw. Problems that train step by step override `_curve`
(the real tasks report per epoch); every other problem gets `synthetic_curve` (module doc there).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
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
class CurvePoint:
    """One reported step of a run: `step` (1, 2, ..., increasing; the unit is the problem's, e.g.
    epochs), the `evaluation` of the run so far (its cost is the cumulative cost spent), and
    whether it is the run's `final` step (then `evaluation` is the run's result)."""

    step: int
    evaluation: Evaluation
    final: bool = False


#: Synthetic learning curves: number of steps, and the spread of the per-run speed (see
#: `synthetic_curve`).
CURVE_STEPS = 16
CURVE_SPEED_SD = 0.5


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

    def learning_curve(
        self, config: dict[str, Any], rng: np.random.Generator
    ) -> Iterator[CurvePoint]:
        """Validate `config` and yield its run's learning curve (see the module doc).

        The last point (``final=True``) equals ``evaluate(config, rng)`` for an RNG in the same
        state; a failed step ends the curve (and is final).
        """
        return self._curve(check_config(self.dims, config), rng)

    def _curve(self, config: dict[str, Any], rng: np.random.Generator) -> Iterator[CurvePoint]:
        """Learning curve of an already validated configuration: `synthetic_curve` unless a
        problem that trains step by step overrides it."""
        return synthetic_curve(self, config, rng)

    def curve_scale(self) -> float:
        """Size of the synthetic curves' excess over the final output at the first step
        (``CURVE_SCALE_FRACTION`` of the distance from the search center's output to the optimum,
        or of the center's magnitude when the optimum is unknown). Cached per instance."""
        cached = self.__dict__.get("_curve_scale")
        if cached is None:
            center = self.center_value()
            ref = self.optimal_value if self.optimal_value is not None else 0.0
            cached = CURVE_SCALE_FRACTION * abs(center - ref) if math.isfinite(center) else 1.0
            cached = cached if cached > 0 else 1.0
            self.__dict__["_curve_scale"] = cached
        return cached

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


CURVE_SCALE_FRACTION = 0.25


def synthetic_curve(
    problem: Problem, config: dict[str, Any], rng: np.random.Generator
) -> Iterator[CurvePoint]:
    """The default learning curve: the final evaluation, approached in `CURVE_STEPS` steps.

    The run is evaluated once (``problem._evaluate(config, rng)``, the same draw as
    ``evaluate``); step k of K = `CURVE_STEPS` has spent the fraction f = k / K of its cost and
    shows the final output plus an excess that decays like training loss:

        excess(f) = scale * (f^-1/2 - 1) / (K^1/2 - 1) * exp(z),   z ~ N(0, CURVE_SPEED_SD^2)

    with `scale` = ``problem.curve_scale()`` (the excess at the first step for z = 0) and z drawn
    once per run from `rng` after the evaluation, so runs learn at different speeds and their
    curves cross: early steps rank runs only roughly, as in real training. The same excess is
    added to the observed and the noise-free output. Where the problem states a reference front,
    a partial run's noise-free output is kept at or above the front at the cost it has spent (a
    run stopped early cannot beat the best run of that cost). The last step is the final
    evaluation itself; a failed run reports its failure at the last step, at its full cost (as
    ``evaluate`` charges it).
    """
    final = problem._evaluate(config, rng)
    if final.failed:
        yield CurvePoint(CURVE_STEPS, final, final=True)
        return
    speed = math.exp(float(rng.normal(0.0, CURVE_SPEED_SD)))
    scale = problem.curve_scale()
    fractions = np.arange(1, CURVE_STEPS + 1) / CURVE_STEPS
    costs = fractions * final.cost
    excess = scale * (fractions**-0.5 - 1.0) / (math.sqrt(CURVE_STEPS) - 1.0) * speed
    front = problem.reference_front(costs)
    for k in range(CURVE_STEPS - 1):
        noise_free = final.noise_free + float(excess[k])
        if front is not None and math.isfinite(float(front[k])):
            noise_free = max(noise_free, float(front[k]))
        shift = noise_free - final.noise_free
        yield CurvePoint(
            k + 1,
            replace(final, output=final.output + shift, noise_free=noise_free,
                    cost=float(costs[k])),
        )
    yield CurvePoint(CURVE_STEPS, final, final=True)
