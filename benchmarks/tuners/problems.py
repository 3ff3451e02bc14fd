"""Registry of benchmark problems: `get_problem(name)` and `PROBLEM_NAMES`."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.tuners.base import Problem
from benchmarks.tuners.chinchilla_sim import ChinchillaProblem
from benchmarks.tuners.cnn_task import CNNDigitsProblem
from benchmarks.tuners.mlp_task import MLPDigitsProblem
from benchmarks.tuners.synthetic import FidelityProblem, SyntheticProblem
from benchmarks.tuners.variants import VARIANTS

_FACTORIES: dict[str, Callable[[], Problem]] = {
    "chinchilla": ChinchillaProblem,
    "branin-cost": lambda: FidelityProblem("branin"),
    "hartmann6-cost": lambda: FidelityProblem("hartmann6"),
    "rosenbrock10-cost": lambda: FidelityProblem("rosenbrock10"),
    "branin": lambda: SyntheticProblem("branin"),
    "hartmann6": lambda: SyntheticProblem("hartmann6"),
    "rosenbrock10": lambda: SyntheticProblem("rosenbrock10"),
    "mlp-digits": MLPDigitsProblem,
    "cnn-digits": CNNDigitsProblem,
    # cost-aware variants (benchmarks/tuners/variants.py): other boxes, starts, budgets, noise,
    # dimensions, failure modes and categoricals
    **VARIANTS,
}

PROBLEM_NAMES: tuple[str, ...] = tuple(_FACTORIES)


def get_problem(name: str) -> Problem:
    """Build the problem registered under `name`.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    try:
        return _FACTORIES[name]()
    except KeyError:
        raise ValueError(f"unknown problem {name!r}; choose from {list(PROBLEM_NAMES)}") from None
