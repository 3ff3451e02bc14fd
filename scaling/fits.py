"""What every fit in :mod:`scaling` shares: the error for data that cannot support a fit, the
check on costs, and how far a prediction lies beyond the fitted costs (with the warning when it
lies far)."""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["FitError", "check_costs", "extrapolation_decades", "warn_if_far"]


class FitError(ValueError):
    """The data cannot support the requested fit (too few points, bad values ...)."""


def check_costs(cost, name: str) -> np.ndarray:
    """``cost`` as a float array; raises :class:`FitError` naming ``name`` for a non-finite or
    non-positive value (costs are fitted on a log scale)."""
    cost = np.asarray(cost, dtype=float)
    if not np.all(np.isfinite(cost)):
        raise FitError(f"{name} has non-finite values; drop those rows before fitting.")
    if np.any(cost <= 0):
        raise FitError(f"{name} has non-positive values; costs must be > 0 for log-scale fits "
                       f"(drop those rows or choose another cost column).")
    return cost


def extrapolation_decades(cost: np.ndarray, cost_min: float, cost_max: float) -> np.ndarray:
    """How many decades each cost lies outside [cost_min, cost_max] (0 inside)."""
    lc = np.log10(np.asarray(cost, dtype=float))
    return np.maximum(0.0, np.maximum(lc - np.log10(cost_max), np.log10(cost_min) - lc))


def warn_if_far(decades: np.ndarray, warn_decades: float, what: str) -> None:
    """Warn (``UserWarning``, pointing at the caller of the ``predict`` that calls this) when a
    prediction lies more than ``warn_decades`` decades outside the fitted cost range."""
    far = float(np.max(decades, initial=0.0))
    if far > warn_decades:
        msg = (f"{what}: predicting {far:.2f} decades outside the fitted cost range "
               f"(warning threshold {warn_decades}); treat the interval as optimistic.")
        warnings.warn(msg, UserWarning, stacklevel=3)
