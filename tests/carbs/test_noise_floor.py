"""The noise floor of the cost targets: fitted where a run's noise grows as its cost falls,
absent where the noise level is flat."""

from __future__ import annotations

import math

import numpy as np
import pytest

from carbs.noise import SNR, noise_floor
from carbs.pareto import group_basic_resamples


def _groups(costs, sds, samples: int = 4, spread: float = 1.0, seed: int = 0):
    """One resampled group per (cost, noise sd), plus single runs whose means spread by
    ``spread`` at the dear end (the signal)."""
    rng = np.random.default_rng(seed)
    rows, y, c = [], [], []
    for k, (cost, sd) in enumerate(zip(costs, sds, strict=True)):
        # exact sample sd: +-sd around the mean, 2 of each sign
        for j in range(samples):
            rows.append([k, 0.0])
            y.append((sd if j % 2 else -sd) * math.sqrt((samples - 1) / samples))
            c.append(cost)
    for k in range(20):  # dear single runs: the signal
        rows.append([100 + k, 1.0])
        y.append(float(rng.normal(0.0, spread)))
        c.append(1.0)
    y = np.asarray(y)
    return group_basic_resamples(np.asarray(rows, dtype=float), y, np.asarray(c)), y


def _signal(groups) -> float:
    dear = groups.mean_cost >= np.median(groups.mean_cost)
    return float(np.std(groups.mean_output[dear]))


def test_noise_growing_as_cost_falls_gives_the_cost_where_it_swamps_the_signal():
    # noise falling with cost, one group noisier than the trend (1e-2): the floor is where the
    # fitted trend reaches signal / SNR, below that group
    costs = [1e-4, 1e-3, 1e-2, 1e-1]
    sds = [2.0, 0.6, 1.0, 0.06]
    groups, y = _groups(costs, sds)
    log_c, log_sd = np.log(costs), np.log(sds)
    slope, icept = np.polyfit(log_c, log_sd, 1)  # equal weights: every group has 4 runs
    fitted = math.exp((math.log(_signal(groups) / SNR) - icept) / slope)
    assert fitted < 1e-2
    assert noise_floor(groups, y) == pytest.approx(fitted, rel=1e-6)


def test_the_floor_is_never_above_the_dearest_group_seen_that_noisy():
    # the fitted line would put the floor at (0.02 SNR / signal)^2 (about 1.6e-3 here), above
    # every group whose own noise reached signal / SNR (1e-4 and 1e-3): no extrapolating up
    costs = [1e-4, 1e-3, 1e-2, 1e-1]
    groups, y = _groups(costs, [0.02 / math.sqrt(c) for c in costs])
    assert (0.02 * SNR / _signal(groups)) ** 2 > 1e-3
    assert noise_floor(groups, y) == pytest.approx(1e-3)
    # no group that noisy: no floor, however the line slopes
    quiet = [1e-3, 1e-2, 1e-1]
    groups, y = _groups(quiet, [0.001 / math.sqrt(c) for c in quiet])
    assert noise_floor(groups, y) is None


def test_a_flat_noise_level_has_no_floor():
    costs = [1e-4, 1e-3, 1e-2, 1e-1]
    groups, y = _groups(costs, [0.05] * 4)
    assert noise_floor(groups, y) is None


def test_too_little_evidence_has_no_floor():
    # two resampled groups, or three within a factor of 3 of each other
    groups, y = _groups([1e-4, 1e-2], [2.0, 0.2])
    assert noise_floor(groups, y) is None
    groups, y = _groups([1e-3, 1.5e-3, 2e-3], [0.6, 0.5, 0.45])
    assert noise_floor(groups, y) is None
    # no resampled group at all
    groups = group_basic_resamples(np.eye(3), np.arange(3.0), np.ones(3))
    assert noise_floor(groups, np.arange(3.0)) is None
