"""log-EI stability, search density and high-cost thresholds."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from carbs.acquisition import (
    cost_stratum,
    draw_cost_target,
    draw_high_cost_threshold,
    expected_improvement,
    log_expected_improvement,
    log_h,
)
from carbs.proposal import log_search_density


def test_log_h_finite_and_monotone_for_extreme_inputs():
    z = np.array([-1e300, -1e150, -1e10, -1e5, -1e4 - 1, -1e4, -300.0, -40.0, -10.0, -5.0, -1.0,
                  -0.5, 0.0, 0.5, 5.0, 40.0, 1e5, 1e10, 1e150])
    v = log_h(z)
    assert np.all(np.isfinite(v))
    assert np.all(np.diff(v) >= 0)
    assert np.all(np.diff(v[1:]) > 0)  # strictly increasing inside the clip at |z| = 1e150


def test_log_h_matches_closed_form_where_that_is_accurate():
    z = np.linspace(-8, 8, 101)
    direct = np.log(norm.pdf(z) + z * norm.cdf(z))
    assert np.allclose(log_h(z), direct, rtol=1e-6, atol=1e-9)
    # continuity at the branch points
    for b in (-1.0, -1e4):
        lo, hi = log_h(np.array([b - 1e-9]))[0], log_h(np.array([b + 1e-9]))[0]
        assert abs(lo - hi) < 1e-6 * max(1.0, abs(lo))  # only the slope times 2e-9


def test_log_ei_stable_for_extreme_inputs():
    mu = np.array([0.0, -1e6, 1e6, 0.0, -50.0, 1e300, -1e300])
    sigma = np.array([1.0, 1e-3, 1e-3, 0.0, 1e-12, 1.0, 1.0])
    v = log_expected_improvement(mu, sigma, best=0.0, exploration_bias=1.0)
    assert np.all(np.isfinite(v))
    # EI against the closed form
    m, s, best = 0.3, 0.7, 0.1
    z = (m - best) / s
    assert math.isclose(float(expected_improvement(m, s, best)),
                        s * (norm.pdf(z) + z * norm.cdf(z)), rel_tol=1e-9)
    # exploration bias lowers EI
    assert expected_improvement(m, s, best, 1.0) < expected_improvement(m, s, best, 0.0)


def test_search_density_peaks_at_origins_and_counts_categories():
    origins = np.array([[0.0, 1.0, 0.0], [2.0, 0.0, 1.0]])  # one numeric col + 2-choice block
    cands = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [2.0, 0.0, 1.0]])
    ld = log_search_density(cands, origins, 0.3, np.array([0]), [(slice(1, 3), 0.2)])
    assert np.isclose(ld[0], ld[3])
    assert np.isclose(ld[0] - ld[1], math.log(0.8) - math.log(0.2))
    assert ld[2] < ld[1]


def test_high_cost_threshold_range_and_cap():
    rng = np.random.default_rng(0)
    t = [draw_high_cost_threshold(rng, np.array([1.0, 10.0, 100.0]), None) for _ in range(200)]
    assert min(t) >= 1.0 and max(t) <= 100.0
    assert np.median(np.log10(t)) > 0.5  # log-uniform, not uniform in cost
    t = [draw_high_cost_threshold(rng, np.array([1.0, 100.0]), 5.0) for _ in range(50)]
    assert max(t) <= 5.0


def test_cost_target_covers_the_widened_range_and_respects_the_cap():
    rng = np.random.default_rng(0)
    t = np.array([draw_cost_target(rng, 1.0, 100.0, 0.5, None) for _ in range(4000)])
    span = math.log(100.0)
    assert t.min() >= -0.5 * span - 1e-9 and t.max() <= 1.5 * span + 1e-9
    assert (t < 0).mean() == pytest.approx(0.25, abs=0.03)  # below the cheapest run
    assert (t > span).mean() == pytest.approx(0.25, abs=0.03)  # above the front's top
    capped = [draw_cost_target(rng, 1.0, 100.0, 0.5, 20.0) for _ in range(200)]
    assert max(capped) <= math.log(20.0) + 1e-12
    assert draw_cost_target(rng, 3.0, 3.0, 0.5, None) is None  # every run costs the same


def test_cost_stratum_keeps_the_candidates_nearest_the_target():
    cost = np.geomspace(1.0, 1e4, 100)
    near = cost_stratum(cost, math.log(100.0), 0.1)
    assert near.sum() >= 10 and np.all(np.abs(np.log10(cost[near]) - 2) <= 0.25)
    # costs that barely vary: no restriction (stratum at least a factor of 2 wide)
    flat = cost_stratum(np.linspace(1.0, 1.2, 50), math.log(1.1), 0.1)
    assert flat.all()
