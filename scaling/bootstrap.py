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

__all__ = ["MIN_RESAMPLES", "bootstrap_counts", "check_resamples", "interval_percentiles",
           "percentile_interval"]

#: Fewest resamples that make an interval (fewer all land on one or two values).
MIN_RESAMPLES = 10


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


def check_resamples(n_bootstrap: int) -> None:
    """Refuse a number of resamples that cannot make an interval: ValueError naming
    ``n_bootstrap`` (``--bootstrap``) unless it is 0 (no intervals) or at least
    :data:`MIN_RESAMPLES`."""
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)):
        raise ValueError(f"n_bootstrap (--bootstrap) = {n_bootstrap!r}: use a whole number of "  # noqa: TRY004
                         f"resamples")
    if n_bootstrap < 0 or 0 < n_bootstrap < MIN_RESAMPLES:
        raise ValueError(f"n_bootstrap (--bootstrap) = {n_bootstrap}: {n_bootstrap} resample(s) "
                         f"cannot make an interval; use 0 (no intervals) or at least "
                         f"{MIN_RESAMPLES} (1000 by default)")
