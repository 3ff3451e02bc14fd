"""The final wave of an async sweep: its last launches capped to end with the trials in flight
(the cap's arithmetic, then a real joblib sweep whose last launches carry it)."""

import json
import math

import pytest

from carbs.sweep.final_wave import CAP_QUANTILE, final_wave_cap, launches_left, seconds_per_cost
from carbs.sweep.journal import load_trials
from carbs.sweep.settings import FinalWave, load_settings

# (seconds, cost) of finished trials: 2 seconds per unit of cost, one slow outlier
FINISHED = [(2.0, 1.0), (4.0, 2.0), (6.0, 3.0), (40.0, 2.0), (8.0, 4.0)]


def test_seconds_per_cost_is_the_median_ratio_of_usable_trials():
    assert seconds_per_cost(FINISHED) == pytest.approx(2.0)  # the outlier does not move it
    assert seconds_per_cost(FINISHED[:2]) is None  # fewer than 3 finished: no estimate
    # zero or non-finite seconds or costs are left out, and count for nothing
    assert seconds_per_cost([(0.0, 1.0), (2.0, 0.0), (math.nan, 1.0), *FINISHED[:2]]) is None
    assert seconds_per_cost([(math.inf, 1.0), *FINISHED[:3]]) == pytest.approx(2.0)


def test_the_cap_ends_a_launch_with_the_latest_predicted_end_in_flight():
    # in flight: launched at 100 predicted to cost 5 (ends at 110 at 2 s per cost), launched at
    # 104 predicted to cost 1 (ends at 106); at 105 the new trial may run 5 s = 2.5 cost units
    inflight = [(100.0, 5.0), (104.0, 1.0)]
    assert final_wave_cap(105.0, inflight, FINISHED) == pytest.approx(2.5)
    assert final_wave_cap(101.0, inflight, FINISHED) == pytest.approx(4.5)
    # every trial in flight is expected to have ended: the smallest cap (CARBS's cheapest)
    tiny = final_wave_cap(120.0, inflight, FINISHED)
    assert tiny is not None and 0 < tiny < 1e-300


def test_no_cap_without_enough_knowledge():
    assert final_wave_cap(105.0, [(100.0, 5.0)], FINISHED[:2]) is None
    assert final_wave_cap(105.0, [(100.0, math.nan)], FINISHED) is None
    assert final_wave_cap(105.0, [(100.0, 5.0)], [(1e308, 1e-308)] * 3) is None  # inf s/cost


def test_nothing_in_flight_the_expected_last_launch_bounds_it():
    # trials that ended together free every worker at once: the last launch gets the cheapest
    # candidate, the one before it half a mean trial (2 workers, 12 s mean, 2 s per cost: 3)
    last = final_wave_cap(105.0, [], FINISHED, launches_left=1, n_jobs=2)
    assert last is not None and 0 < last < 1e-300
    assert final_wave_cap(105.0, [], FINISHED, launches_left=2, n_jobs=2) == pytest.approx(3.0)


def test_earlier_launches_may_run_until_the_expected_last_launch():
    # 9 launches left on 2 workers, finished trials 12 s on average: the last launch is expected
    # 8 x 12 / 2 = 48 s from now, later than the trials in flight end (110): cap 48 s / 2
    inflight = [(100.0, 5.0), (104.0, 1.0)]
    assert final_wave_cap(105.0, inflight, FINISHED, launches_left=9,
                          n_jobs=2) == pytest.approx(24.0)
    # 2 launches left on 4 workers: 1 x 12 / 4 = 3 s, before 110: the trials in flight decide
    assert final_wave_cap(105.0, inflight, FINISHED, launches_left=2,
                          n_jobs=4) == pytest.approx(2.5)


def test_launches_left_from_the_trial_or_cost_budget():
    assert launches_left(trials_left=4) == 4
    # a cost budget: what is left over the in-flight trials' mean predicted cost
    assert launches_left(cost_left=12.0, inflight_costs=[2.0, 4.0]) == pytest.approx(4.0)
    assert launches_left(trials_left=3, cost_left=12.0, inflight_costs=[2.0, 4.0]) == 3
    assert launches_left(cost_left=-1.0, inflight_costs=[2.0]) == 0
    assert launches_left(cost_left=1.0, inflight_costs=[]) is None  # nothing to compare with


def test_final_wave_shortens_by_default_and_can_be_turned_off():
    space = {"x": {"space": "linear", "center": 0.0, "min": -2, "max": 2}}
    default = load_settings({"search_space": space, "max_trials": 2})
    assert default.final_wave is FinalWave.shorten
    off = load_settings({"search_space": space, "max_trials": 2, "final_wave": "none"})
    assert off.final_wave is FinalWave.none


def test_an_async_sweeps_last_launches_are_capped_quietly(sweep, tmp_path):
    proc, d = sweep(tmp_path, "hydra/launcher=joblib", "hydra.sweeper.n_jobs=2",
                    "hydra.sweeper.max_trials=8", "sleep=0.1")  # final_wave: the default
    df = load_trials(d).sort_values("job_num")
    assert len(df) == 8 and (df["status"] == "ok").all() and (df["attempt"] == 1).all()
    suggestions = [json.loads(s) for s in df["suggestion"]]
    # no cap before 3 trials finished (the first 4 launches on 2 workers: the k-th waits for
    # k - 2 to finish); the last n_jobs=2 launches (5 and 6 trials finished) carry it
    capped = [("final_wave_cap" in s) for s in suggestions]
    assert capped[:4] == [False] * 4 and capped[-2:] == [True, True]
    for s in suggestions[-2:]:
        assert s["final_wave_cap"] > 0
        assert s["cap_quantile"] == CAP_QUANTILE  # the cap held at the upper prediction
        # under the cap, or CARBS's cheapest candidate when none is
        assert "fallback" in s or s["cost"] <= s["final_wave_cap"] * (1 + 1e-9)
    # an expected fallback to the cheapest candidate is not a warning
    assert "no candidate within the cost cap" not in proc.stderr + proc.stdout
