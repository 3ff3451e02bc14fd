"""The proposal distribution and its density agree; candidates are valid and distinct."""

import math

import numpy as np

from carbs.encoder import ParamEncoder
from carbs.proposal import (
    draw_candidates,
    log_search_density,
    mutate,
    nearby_best_group,
    rows_in,
    stratified_origin_weights,
)


def test_mutate_draws_what_the_density_describes():
    rng = np.random.default_rng(0)
    origin = np.array([[0.5, 0.0, 1.0, 0.0]])  # one numeric column + a 3-choice block
    blocks = [(slice(1, 4), 0.3)]
    draws = mutate(rng, np.repeat(origin, 20_000, 0), 0.2, np.array([0]), blocks)
    assert abs(draws[:, 0].std() - 0.2) < 0.005 and abs(draws[:, 0].mean() - 0.5) < 0.005
    kept = np.argmax(draws[:, 1:], axis=1) == 1
    assert abs(kept.mean() - 0.7) < 0.01
    assert np.all(draws[:, 1:].sum(1) == 1.0)  # one-hot stays one-hot
    # density: Normal(0, 0.2) on the numeric column, 0.7 / (0.3 / 2) on the block
    ld = log_search_density(draws[:3], origin, 0.2, np.array([0]), blocks)
    for row, v in zip(draws[:3], ld):
        d = row[0] - 0.5
        cat = math.log(0.7) if np.argmax(row[1:]) == 1 else math.log(0.15)
        expect = -0.5 * (d / 0.2) ** 2 - math.log(0.2 * math.sqrt(2 * math.pi)) + cat
        assert math.isclose(v, expect, rel_tol=1e-12)


def test_draw_candidates_are_rounded_in_bounds_and_not_outstanding(params_4d):
    enc = ParamEncoder(params_4d)
    rng = np.random.default_rng(1)
    origins = enc.to_basic([{"a": 1.9, "b": 0.0, "c": 0.0, "size": 10.0}])
    taken = origins.copy()
    cand = draw_candidates(rng, enc, origins, 200, 0.3, taken)
    assert len(cand) == 200
    configs = enc.from_basic(cand)
    assert all(-2 <= c["a"] <= 2 and 1 <= c["size"] <= 1000 for c in configs)
    assert not rows_in(cand, taken).any()


def test_stratified_origin_weights():
    # three search-front origins, then one cheap-end origin; the target is nearest the last
    w = stratified_origin_weights(np.log([10.0, 30.0, 100.0, 1.0]), 3, math.log(0.5))
    assert np.allclose(w, [1 / 6, 1 / 6, 1 / 6, 0.5]) and math.isclose(w.sum(), 1.0)
    w = stratified_origin_weights(np.log([10.0, 30.0, 100.0]), 3, math.log(1e4))
    assert np.allclose(w, [1 / 6, 1 / 6, 1 / 6 + 0.5])


def test_nearby_best_group_is_the_best_run_near_the_target_cost():
    # a lucky cheap run (output 9) beats everything; near a target of 100 the best is 5 (at 200)
    costs, outputs = np.log([1e-3, 50.0, 200.0, 1e4]), np.array([9.0, 2.0, 5.0, 7.0])
    assert nearby_best_group(costs, outputs, math.log(100.0)) == 2
    # nothing within half a decade: the best within a factor of 2 beyond the nearest run
    assert nearby_best_group(costs, outputs, math.log(1.0)) == 1  # 50; 200 is 4x further
    assert nearby_best_group(costs, outputs, math.log(130.0)) == 2  # 50 and 200: 200 is best
    assert nearby_best_group(costs, outputs, math.log(1e-2)) == 0
