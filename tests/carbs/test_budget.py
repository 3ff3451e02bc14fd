"""Budget awareness: total_budget caps each suggestion at a share of what is left (with the
per-call cap, the lower wins; budget_pacing raises the share when the trials left would leave
budget unspent), cost_window keeps the costs, and both survive a state file."""

import logging
import math

import numpy as np
import pytest

from carbs import CARBS, CARBSConfig
from carbs.acquisition import cost_target_range

FAST = {"num_candidates_for_suggestion_per_dim": 30, "fit_max_iter": 25}


def _run(opt: CARBS, objective, n: int) -> list:
    out = []
    for _ in range(n):
        s = opt.suggest()
        y, c = objective(s.config)
        opt.observe(s, y, c)
        out.append((s, c))
    return out


def test_no_suggestion_is_predicted_above_its_share_of_the_remaining_budget(params_4d,
                                                                              cost_aware):
    budget = 4000.0
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=1, total_budget=budget,
                            max_budget_fraction=0.1, **FAST), params_4d)
    spent = 0.0
    for s, c in _run(opt, cost_aware, 24):
        if s.predictions.get("kind") == "bo":
            assert s.predictions["cost"] <= 0.1 * (budget - spent) * (1 + 1e-9)
        spent += c
    assert spent < budget
    # outstanding suggestions count against the budget with their predicted costs
    cap_before, _ = opt._suggestion_cap(None)
    batch = opt.suggest(3)
    cap_after, _ = opt._suggestion_cap(None)
    pending = sum(s.predictions.get("cost", 0.0) for s in batch)
    assert cap_after == pytest.approx(cap_before - 0.1 * pending)


def test_the_lower_of_the_call_cap_and_the_budget_share_applies(params_4d, cost_aware):
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=2, total_budget=1e6,
                            max_suggestion_cost=500.0, **FAST), params_4d)
    _run(opt, cost_aware, 8)
    assert opt._suggestion_cap(None)[0] == pytest.approx(
        0.1 * (1e6 - sum(o.cost for o in opt.observations)))
    assert opt._suggestion_cap(20.0)[0] == 20.0  # the call's cap is lower
    s = opt.suggest(max_suggestion_cost=20.0)
    assert s.predictions["cost"] <= 20.0


def test_a_spent_budget_suggests_the_cheapest_candidate_and_warns_once(params_4d, cost_aware,
                                                                         caplog):
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=3, total_budget=200.0,
                            resample_frequency=0, **FAST), params_4d)
    for _ in range(6):  # the start-up runs alone spend more than 200
        s = opt.suggest()
        opt.observe(s, *cost_aware({**s.config, "size": 60.0}))
    observed = min(o.cost for o in opt.observations)
    with caplog.at_level(logging.WARNING, logger="carbs"):
        costs = [cost_aware(opt.suggest().config)[1] for _ in range(3)]
    assert caplog.text.count("no candidate within the cost cap") == 1
    assert max(costs) < observed


def test_a_binding_cap_of_the_call_itself_falls_back_quietly(params_4d, cost_aware, caplog):
    # the caller set this call's cap (e.g. a sweep's last launches): the cheapest candidate is
    # suggested and recorded as a fallback, logged at DEBUG rather than warned about
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=3, resample_frequency=0, **FAST),
                params_4d)
    _run(opt, cost_aware, 6)
    with caplog.at_level(logging.DEBUG, logger="carbs"):
        s = opt.suggest(max_suggestion_cost=1e-12)
    assert s.predictions["fallback"] == "cheapest candidate: no candidate within the cost cap"
    assert s.predictions["cap"] == 1e-12
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not warned and "no candidate within the cost cap" in caplog.text


def test_cost_window_keeps_targets_and_costs_near_it(params_4d, cost_aware):
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=4, cost_window=(2.0, 30.0),
                            **FAST), params_4d)
    bo = [(s, c) for s, c in _run(opt, cost_aware, 20) if s.predictions.get("kind") == "bo"]
    assert bo and all(s.predictions["cost"] <= 60.0 for s, _ in bo)
    lo, hi = cost_target_range(1.0, 100.0, 1.0, None, rule="bounded", window=(2.0, 30.0))
    assert (math.exp(lo), math.exp(hi)) == pytest.approx((1.0, 60.0))


def test_budget_fields_survive_a_state_file(tmp_path, params_4d, cost_aware):
    cfg = CARBSConfig(better_direction_sign=-1, seed=5, total_budget=5e3, cost_window=[1, 100],
                      **FAST)
    opt = CARBS(cfg, params_4d)
    _run(opt, cost_aware, 6)
    opt.save(tmp_path / "s.json")
    loaded = CARBS.load(tmp_path / "s.json")
    assert loaded.config.total_budget == 5e3 and loaded.config.cost_window == (1.0, 100.0)
    assert loaded.suggest().config == opt.suggest().config


@pytest.mark.parametrize("rule", ["bounded", "expensive", "budget"])
def test_bounded_rules_step_at_most_max_factor_and_stay_within_the_span(rule):
    lo, hi = cost_target_range(1e10, 1e16, 1.0, None, rule=rule, max_factor=10.0,
                               span_decades=4.0, budget_cap=1e20 if rule == "budget" else None)
    assert math.exp(lo) == pytest.approx(1e12)  # 4 decades below the top, not 1e9
    top = 1e20 if rule == "budget" else 1e17
    assert math.exp(hi) == pytest.approx(top)
    s_lo, s_hi = cost_target_range(1e10, 1e16, 1.0, None, rule="stratified")
    assert np.log10(np.exp([s_lo, s_hi])) == pytest.approx([4.0, 22.0])  # span doubles


@pytest.mark.parametrize("origin", ["front", "nearby"])
def test_a_collapsed_front_leaves_an_origin_near_a_high_target_only_with_nearby(params_4d,
                                                                               origin):
    """One lucky cheap run beats every dearer run, so the front is that run alone. With
    ``cost_target_origin="nearby"`` half the candidates of a target at 300 are still drawn
    around the best run near 300; with "front" every origin is the cheap run."""
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=0, cost_target_origin=origin),
                params_4d)
    opt.observe({"a": 0.0, "b": 0.0, "c": 0.0, "size": 1.0}, -100.0, 1.0)  # lucky
    for a, size, y in [(0.1, 100.0, 2.0), (0.2, 250.0, 1.0), (0.3, 500.0, 1.5)]:
        opt.observe({"a": a, "b": 0.0, "c": 0.0, "size": size}, y, size)
    groups, front, ok = opt._pareto()
    assert [groups.mean_cost[g] for g in front] == [1.0]
    origins, weights = opt._origins(groups, front, ok, math.log(300.0))
    sizes = opt.encoder.from_basic(origins)
    if origin == "front":
        assert [s["size"] for s in sizes] == [1.0]
    else:
        assert [s["size"] for s in sizes] == pytest.approx([1.0, 250.0])  # 250 beats 100, 500
        assert weights.tolist() == [0.5, 0.5]


def test_a_cap_quantile_holds_the_cap_against_the_upper_cost_prediction(params_4d, cost_aware):
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=3, **FAST), params_4d)
    _run(opt, cost_aware, 10)
    median = opt.suggest(max_suggestion_cost=50.0)
    opt.forget(median.suggestion_id)
    careful = opt.suggest(max_suggestion_cost=50.0, cap_quantile=0.9)
    opt.forget(careful.suggestion_id)
    assert "fallback" not in careful.predictions and "fallback" not in median.predictions
    x = opt.encoder.to_basic([careful.config])
    upper = opt.surrogates.predict_cost_quantile(x, 0.9)[2][0]
    # under the cap at the 0.9 quantile, so the median is further below it
    assert upper <= 50.0 * (1 + 1e-9)
    assert careful.predictions["cost"] < upper
    assert median.predictions["cost"] <= 50.0 * (1 + 1e-9)
    # the quantile is a monotone function of q at any candidate
    x = opt.encoder.to_basic([median.config])
    lo, mid, hi = (opt.surrogates.predict_cost_quantile(x, q)[2][0] for q in (0.1, 0.5, 0.9))
    assert lo < mid < hi
    assert mid == pytest.approx(opt.surrogates.predict_cost(x)[1][0], rel=1e-6)
    for bad in (0.0, 1.0, math.nan, "0.9"):
        with pytest.raises((ValueError, TypeError), match="cap_quantile"):
            opt.suggest(max_suggestion_cost=50.0, cap_quantile=bad)


def test_start_up_steps_keep_to_the_budget_share_once_costs_are_known(params_4d, cost_aware):
    # a budget of about 20 runs at the center's cost: from the third start-up run on, each
    # random step is the first one predicted under a tenth of what is left (its predicted
    # cost recorded), and the start-up spends less than the same seed's blind steps
    def start_up(budget: float | None) -> list:
        opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=4, num_random_samples=10,
                                total_budget=budget, **FAST), params_4d)
        return [s for s, _ in _run(opt, cost_aware, 10)]

    aware, blind = start_up(200.0), start_up(None)
    assert all(s.predictions["kind"] == "random" for s in aware)
    assert "cost" not in aware[0].predictions and "cost" not in aware[1].predictions
    assert all({"cost", "cap"} <= set(s.predictions) for s in aware[2:])
    under = [s.predictions["cost"] <= s.predictions["cap"] for s in aware[2:]]
    assert sum(under) >= 6  # the cheapest predicted only when no step is under the cap
    assert sum(s.config["size"] for s in aware) < sum(s.config["size"] for s in blind)


def test_a_budget_that_never_binds_leaves_the_start_up_as_it_was(params_4d, cost_aware):
    # the first random step is taken whenever it is under the cap: the same steps as without a
    # budget (the cost model draws no random numbers)
    def configs(budget: float | None) -> list[dict]:
        opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=5, num_random_samples=6,
                                total_budget=budget, **FAST), params_4d)
        return [s.config for s, _ in _run(opt, cost_aware, 6)]

    assert configs(1e12) == configs(None)


def test_budget_pacing_caps_a_suggestion_at_even_shares_of_what_is_left(params_4d, cost_aware):
    # 30 runs: 4 even shares of what is left over the runs left (this one counted) are more
    # than a tenth of it from the start, so the paced share is the budget cap; outstanding
    # suggestions count as runs and, with their predicted costs, as spent
    cfg = {"better_direction_sign": -1, "seed": 6, "total_budget": 1e5, "total_trials": 30,
           **FAST}
    opt = CARBS(CARBSConfig(**cfg), params_4d)  # budget_pacing=4.0, the default
    _run(opt, cost_aware, 12)
    left = 1e5 - sum(o.cost for o in opt.observations)
    assert opt._suggestion_cap(None)[1] == pytest.approx(4 * left / 18)
    batch = opt.suggest(3)
    left -= sum(s.predictions.get("cost", 0.0) for s in batch)
    assert opt._suggestion_cap(None)[1] == pytest.approx(4 * left / 15)
    # without pacing, or without the trial count, the tenth of what is left
    for kw in ({"budget_pacing": None}, {"total_trials": None}):
        plain = CARBS(CARBSConfig(**{**cfg, **kw}), params_4d)
        plain.restore(opt.snapshot())
        assert plain._suggestion_cap(None)[1] == pytest.approx(0.1 * left)
    # 4 even shares of what is left, whatever it is (spent well below the budget's pace)
    assert opt._paced_share(1000.0, 10.0) == pytest.approx(4 * 1000.0 / 15)
    # runs that spend at the budget's pace (their mean cost x the runs left >= what is left)
    # are not paced: a short sweep of a small budget keeps the tenth
    rate = sum(o.cost for o in opt.observations) / len(opt.observations)
    assert opt._paced_share(rate * 15, rate * 15) is None
    assert opt._paced_share(rate * 15, rate * 15 * 0.9) == pytest.approx(4 * rate)
    # many runs left: 4 even shares are less than the tenth, which rules
    many = CARBS(CARBSConfig(**{**cfg, "total_trials": 10_000}), params_4d)
    assert many._suggestion_cap(None)[1] == pytest.approx(0.1 * 1e5)


def test_budget_pacing_spends_budget_the_trial_count_would_leave(params_4d, cost_aware):
    # 30 runs of a budget the tenth-of-what-is-left rule leaves mostly unspent: pacing spends
    # more of it (same seed)
    def spent(pacing: float | None) -> float:
        opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=7, total_budget=3000.0,
                                total_trials=30, budget_pacing=pacing, **FAST), params_4d)
        return sum(c for _, c in _run(opt, cost_aware, 30))

    plain, paced = spent(None), spent(4.0)
    assert paced > 1.2 * plain
