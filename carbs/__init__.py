"""CARBS: Cost-Aware Pareto-Region Bayesian Search (Fetterman et al., 2023), our implementation.

Quick start::

    from carbs import CARBS, CARBSConfig, Param, LogSpace
    opt = CARBS(CARBSConfig(better_direction_sign=-1), [Param("lr", LogSpace(1e-5, 1.0), 1e-3)])
    s = opt.suggest()
    opt.observe(s, output=loss, cost=seconds)

Public names load on first use (PEP 562): ``import carbs`` and the light modules (spaces,
sweep settings, the journal) do not import torch or gpytorch, which keeps the Hydra plugin
scan and sweep workers fast. ``from carbs import CARBS`` imports them as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module defining it
_EXPORTS = {
    "expected_improvement": "carbs.acquisition",
    "log_expected_improvement": "carbs.acquisition",
    "CARBSConfig": "carbs.config",
    "Observation": "carbs.config",
    "ParetoGroup": "carbs.config",
    "Suggestion": "carbs.config",
    "Journal": "carbs.sweep.journal",
    "JournalError": "carbs.sweep.journal",
    "load_trials": "carbs.sweep.journal",
    "CARBS": "carbs.optimizer",
    "group_basic_resamples": "carbs.pareto",
    "pareto_group_indices": "carbs.pareto",
    "plot_convergence": "carbs.plots",
    "plot_params_vs_cost": "carbs.plots",
    "plot_pareto_front": "carbs.plots",
    "CategoricalSpace": "carbs.spaces",
    "LinearSpace": "carbs.spaces",
    "LogitSpace": "carbs.spaces",
    "LogSpace": "carbs.spaces",
    "Param": "carbs.spaces",
    "Space": "carbs.spaces",
    "SCHEMA_VERSION": "carbs.state",
    "CARBSSnapshot": "carbs.state",
    "StateFileError": "carbs.state",
    "CARBSSweeperConf": "carbs.sweep.settings",
    "SweepConfigError": "carbs.sweep.settings",
}

__all__ = [
    "CARBS",
    "SCHEMA_VERSION",
    "CARBSConfig",
    "CARBSSnapshot",
    "CARBSSweeperConf",
    "CategoricalSpace",
    "Journal",
    "JournalError",
    "LinearSpace",
    "LogSpace",
    "LogitSpace",
    "Observation",
    "Param",
    "ParetoGroup",
    "Space",
    "StateFileError",
    "Suggestion",
    "SweepConfigError",
    "expected_improvement",
    "group_basic_resamples",
    "load_trials",
    "log_expected_improvement",
    "pareto_group_indices",
    "plot_convergence",
    "plot_params_vs_cost",
    "plot_pareto_front",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'carbs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # static analysers and IDEs see the real names
    from carbs.acquisition import expected_improvement, log_expected_improvement
    from carbs.config import CARBSConfig, Observation, ParetoGroup, Suggestion
    from carbs.optimizer import CARBS
    from carbs.pareto import group_basic_resamples, pareto_group_indices
    from carbs.plots import plot_convergence, plot_params_vs_cost, plot_pareto_front
    from carbs.spaces import CategoricalSpace, LinearSpace, LogitSpace, LogSpace, Param, Space
    from carbs.state import SCHEMA_VERSION, CARBSSnapshot, StateFileError
    from carbs.sweep.journal import Journal, JournalError, load_trials
    from carbs.sweep.settings import CARBSSweeperConf, SweepConfigError
