"""The bootstrap every fit in :mod:`scaling` uses: resamples as multinomial counts over the
points, and percentile intervals of the refitted values.

A resample draws ``n`` of the ``n`` points with replacement; as a row of counts (how often each
point is drawn) it weights the points of one shared data array, so many resamples are refitted
together (:func:`scaling.powerlaw.fit_power_laws`, :func:`scaling.powerlaw.fit_saturating`,
:func:`scaling.parametric.bootstrap_fits`). Drawing them in batches gives the same rows as
drawing them at once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bootstrap_counts", "interval_percentiles", "percentile_interval"]


def bootstrap_counts(rng: np.random.Generator, n: int, n_resamples: int) -> np.ndarray:
    """``(n_resamples, n)`` float counts: how often each of ``n`` points is drawn in each
    resample of ``n`` draws with replacement."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(float)


def interval_percentiles(level: float) -> list[float]:
    """The percentiles bounding a central interval of confidence ``level`` (0.95: 2.5, 97.5)."""
    return [50 * (1 - level), 50 * (1 + level)]


def percentile_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """The central interval of confidence ``level`` of ``samples`` (NaN samples ignored)."""
    lo, hi = np.nanpercentile(samples, interval_percentiles(level), axis=0)
    return float(lo), float(hi)
