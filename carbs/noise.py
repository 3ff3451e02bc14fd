"""Where cheap runs are too noisy to tell configurations apart: the noise floor of the cost
targets (``CARBSConfig.cost_target_noise_floor``).

On some problems a run's noise grows as its cost falls (fewer tokens, fewer episodes, a lower
fidelity): below some cost a run's output says more about its luck than about its
configuration, and a cost-stratified search that keeps drawing targets there spends its trials
on coin flips, while its front collapses to the luckiest of them. CARBS resamples runs of its
front, so it sees that noise: the spread of each resampled group's outputs.

:func:`noise_floor` fits log(noise sd) against log(cost) over the resampled groups. When the
noise grows as the cost falls, the floor is the cost where the fitted noise reaches half the
*signal* (the spread of the group mean outputs of the dearer half of the runs: how much
configurations differ where runs are precise), but never above the dearest resampled group
whose own noise reached that level: a floor is only put where that much noise was seen, not
extrapolated up from cheaper runs. Cost targets are not drawn below it. Where no resampled
group is that noisy (a fixed noise level small against the signal: the LM sweeps of the suite)
there is no floor, and the search is exactly what it is without one.
"""

from __future__ import annotations

import math

import numpy as np

from carbs.pareto import Groups

__all__ = ["MIN_NOISE_GROUPS", "NOISE_SLOPE", "SNR", "noise_floor"]

#: resampled groups needed, at costs at least a factor of 3 apart, before a floor is fitted
MIN_NOISE_GROUPS = 3
_MIN_COST_SPAN = math.log(3.0)

#: the fitted slope of log sd on log cost must be below this (noise growing at least as fast as
#: cost ** -0.2 falls): a flat noise level looks a little sloped by chance
NOISE_SLOPE = -0.2

#: the floor is where the noise sd reaches the signal / SNR
SNR = 2.0


def noise_floor(groups: Groups, signed_outputs: np.ndarray) -> float | None:
    """The cost below which a run's noise exceeds half the spread between configurations (see
    the module), or None (too few resampled groups, noise that does not grow as the cost
    falls, or no resampled group that noisy).

    Args:
        groups: the resample groups of the successful observations.
        signed_outputs: those observations' outputs (larger is better), in the order of
            ``groups.inverse``.
    """
    y = np.asarray(signed_outputs, dtype=np.float64)
    if len(groups) == 0 or len(y) != len(groups.inverse):
        return None
    resid = y - groups.mean_output[groups.inverse]
    ss = np.bincount(groups.inverse, weights=resid * resid, minlength=len(groups))
    dof = groups.count - 1
    many = np.flatnonzero((dof > 0) & (ss > 0))
    if len(many) < MIN_NOISE_GROUPS:
        return None
    log_c = np.log(groups.mean_cost[many])
    if np.ptp(log_c) < _MIN_COST_SPAN:
        return None
    log_sd = 0.5 * np.log(ss[many] / dof[many])
    w = dof[many].astype(np.float64)
    mc, ms = np.average(log_c, weights=w), np.average(log_sd, weights=w)
    slope = float(np.sum(w * (log_c - mc) * (log_sd - ms)) / np.sum(w * (log_c - mc) ** 2))
    if not slope < NOISE_SLOPE:
        return None
    dear = groups.mean_cost >= np.median(groups.mean_cost)
    signal = float(np.std(groups.mean_output[dear]))
    if not (math.isfinite(signal) and signal > 0):
        return None
    level = math.log(signal / SNR)
    noisy = log_c[log_sd >= level]
    if len(noisy) == 0:
        return None
    # the fitted log sd = ms + slope (log c - mc) reaches the level here
    floor = min(mc + (level - ms) / slope, float(noisy.max()))
    return math.exp(floor) if math.isfinite(floor) else None
