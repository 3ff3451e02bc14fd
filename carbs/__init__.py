"""CARBS: Cost-Aware Pareto-Region Bayesian Search (Fetterman et al., 2023), our implementation.

Quick start::

    from carbs import CARBS, CARBSConfig, Param, LogSpace
    opt = CARBS(CARBSConfig(better_direction_sign=-1), [Param("lr", LogSpace(1e-5, 1.0), 1e-3)])
    s = opt.suggest()
    opt.observe(s, output=loss, cost=seconds)
"""

from carbs.acquisition import expected_improvement, log_expected_improvement
from carbs.config import CARBSConfig, Observation, ParetoGroup, Suggestion
from carbs.optimizer import CARBS
from carbs.pareto import group_resamples, pareto_group_indices
from carbs.plots import plot_convergence, plot_params_vs_cost, plot_pareto_front
from carbs.spaces import CategoricalSpace, LinearSpace, LogitSpace, LogSpace, Param, Space
from carbs.state import SCHEMA_VERSION, load_state, save_state, warm_start

__all__ = [
    "CARBS",
    "SCHEMA_VERSION",
    "CARBSConfig",
    "CategoricalSpace",
    "LinearSpace",
    "LogSpace",
    "LogitSpace",
    "Observation",
    "Param",
    "ParetoGroup",
    "Space",
    "Suggestion",
    "expected_improvement",
    "group_resamples",
    "load_state",
    "log_expected_improvement",
    "pareto_group_indices",
    "plot_convergence",
    "plot_params_vs_cost",
    "plot_pareto_front",
    "save_state",
    "warm_start",
]
