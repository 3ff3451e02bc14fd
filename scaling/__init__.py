"""Scaling-law fits over sweep tables: Pareto-front power laws and Chinchilla approaches 1-3.

Reads the project's trial table (SQLite journal, CSV, Parquet, DataFrame or sweep directory)
and never imports ``carbs`` or ``recipes``. CLI: ``python -m scaling report SRC`` and
``python -m scaling recommend SRC --budget C``.
"""

from scaling.chinchilla import (
    EPOCH_REFIT,
    PAPER_FIT,
    Approach3Fit,
    ChinchillaLaw,
    ExponentFit,
    chinchilla_data,
    closed_form_allocation,
    fit_approach1,
    fit_approach2,
    fit_approach3,
    group_budgets,
    isoflop_minima,
)
from scaling.datasets import chinchilla_epoch, chinchilla_epoch_path
from scaling.diagnostics import Diagnostic
from scaling.fits import FitError, extrapolation_decades
from scaling.frontier import group_table_resamples, pareto_front, pareto_indices
from scaling.io import find_table_file, from_epoch, is_epoch_table, load_table
from scaling.parametric import default_grid
from scaling.powerlaw import PowerLawFit, fit_power_law, fit_power_laws
from scaling.recommend import Recommendation, RecommendError, recommend
from scaling.report import ReportConfig, run_report
from scaling.saturating import SaturatingFit, fit_frontier_law, fit_saturating

__all__ = [
    "EPOCH_REFIT",
    "PAPER_FIT",
    "Approach3Fit",
    "ChinchillaLaw",
    "Diagnostic",
    "ExponentFit",
    "FitError",
    "PowerLawFit",
    "RecommendError",
    "Recommendation",
    "ReportConfig",
    "SaturatingFit",
    "chinchilla_data",
    "chinchilla_epoch",
    "chinchilla_epoch_path",
    "closed_form_allocation",
    "default_grid",
    "extrapolation_decades",
    "find_table_file",
    "fit_approach1",
    "fit_approach2",
    "fit_approach3",
    "fit_frontier_law",
    "fit_power_law",
    "fit_power_laws",
    "fit_saturating",
    "from_epoch",
    "group_budgets",
    "group_table_resamples",
    "is_epoch_table",
    "isoflop_minima",
    "load_table",
    "pareto_front",
    "pareto_indices",
    "recommend",
    "run_report",
]
