"""Benchmark CARBS against its peers: Optuna TPE and GPSampler, random search, ASHA (Optuna),
BlendSearch (FLAML) and HEBO (in its own environment; see `adapters` for the arms).

Problems state their optimum / reference front (``problems.get_problem``); the runner charges
each tuner the cost it spends under a cumulative-cost budget; the report compares tuners at equal
cumulative cost (median and IQR over seeds). CLI: ``python -m benchmarks.tuners --help``.
"""

from benchmarks.tuners.adapters import (
    EXTRA_TUNERS,
    TUNER_NAMES,
    CarbsTuner,
    OptunaTuner,
    RandomSearch,
    Tuner,
    make_tuner,
)
from benchmarks.tuners.base import Budget, CurvePoint, Evaluation, Problem, synthetic_curve
from benchmarks.tuners.chinchilla_sim import ChinchillaProblem
from benchmarks.tuners.cnn_task import CNNDigitsProblem
from benchmarks.tuners.metrics import (
    best_so_far,
    compare,
    cost_to_target,
    found_front,
    front_gap,
    run_metrics,
    summarise,
)
from benchmarks.tuners.mlp_task import MLPDigitsProblem
from benchmarks.tuners.problems import PROBLEM_NAMES, get_problem
from benchmarks.tuners.report import comparison_markdown, figures, write_report
from benchmarks.tuners.runner import RunResult, RunSpec, make_specs, run_benchmark, run_one
from benchmarks.tuners.space import Dim
from benchmarks.tuners.synthetic import (
    FidelityProblem,
    SyntheticProblem,
    branin,
    hartmann6,
    rosenbrock,
)

__all__ = [
    "EXTRA_TUNERS",
    "PROBLEM_NAMES",
    "TUNER_NAMES",
    "Budget",
    "CNNDigitsProblem",
    "CarbsTuner",
    "ChinchillaProblem",
    "CurvePoint",
    "Dim",
    "Evaluation",
    "FidelityProblem",
    "MLPDigitsProblem",
    "OptunaTuner",
    "Problem",
    "RandomSearch",
    "RunResult",
    "RunSpec",
    "SyntheticProblem",
    "Tuner",
    "best_so_far",
    "branin",
    "compare",
    "comparison_markdown",
    "cost_to_target",
    "figures",
    "found_front",
    "front_gap",
    "get_problem",
    "hartmann6",
    "make_specs",
    "make_tuner",
    "rosenbrock",
    "run_benchmark",
    "run_metrics",
    "run_one",
    "summarise",
    "synthetic_curve",
    "write_report",
]
