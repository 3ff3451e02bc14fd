"""CARBS behaviour: beats random search, batches, failures, errors, threads."""

import json
import math
import threading

import numpy as np
import pytest

from carbs import CARBS, CARBSConfig, LinearSpace, LogSpace, Param, Suggestion

FAST = {"num_candidates_for_suggestion_per_dim": 30, "fit_max_iter": 25}


def _carbs_best(params, seed: int, budget: float, cost_aware_4d) -> float:
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=seed, **FAST), params)
    spent, best = 0.0, math.inf
    while True:
        s = opt.suggest()
        y, c = cost_aware_4d(s.config)
        if spent + c > budget:
            return best
        spent += c
        best = min(best, y)
        opt.observe(s, y, c)


def _random_best(seed: int, budget: float, cost_aware_4d) -> float:
    rng = np.random.default_rng(10_000 + seed)
    spent, best = 0.0, math.inf
    while True:
        cfg = {"a": rng.uniform(-2, 2), "b": rng.uniform(-2, 2), "c": rng.uniform(-2, 2),
               "size": 10 ** rng.uniform(0, 3)}
        y, c = cost_aware_4d(cfg)
        if spent + c > budget:
            return best
        spent += c
        best = min(best, y)


def test_beats_random_search_at_equal_cost(params_4d, cost_aware):
    budget = 250.0
    ours = [_carbs_best(params_4d, s, budget, cost_aware) for s in range(3)]
    rand = [_random_best(s, budget, cost_aware) for s in range(3)]
    assert np.median(ours) < np.median(rand), (ours, rand)


def _warm(opt, n, fn):
    for _ in range(n):
        s = opt.suggest()
        y, c = fn(s.config)
        opt.observe(s, y, c)


@pytest.mark.parametrize("estimator", ["thompson", "mean"])
def test_suggest_batch_is_distinct(mixed_params, estimator, mixed_obj):
    cfg = CARBSConfig(better_direction_sign=-1, seed=1, resample_frequency=0,
                      outstanding_suggestion_estimator=estimator, **FAST)
    opt = CARBS(cfg, mixed_params)
    _warm(opt, 8, mixed_obj)
    batch = opt.suggest(4)
    assert len(batch) == 4 and all(isinstance(s, Suggestion) for s in batch)
    configs = {tuple(sorted(s.config.items())) for s in batch}
    assert len(configs) == 4
    assert len({s.suggestion_id for s in batch}) == 4
    assert all(s.predictions["kind"] == "bo" for s in batch)
    for key in ("output", "cost", "p_success", "acquisition"):
        assert all(math.isfinite(s.predictions[key]) for s in batch)
    assert len(opt.outstanding) == 4
    opt.forget(batch[0].suggestion_id)
    assert len(opt.outstanding) == 3
    df = opt.to_dataframe()
    assert (df.status == "running").sum() == 3 and (df.status == "ok").sum() == 8
    assert {"trial_id", "output", "cost", "param.lr", "param.act", "suggestion"} <= set(df.columns)


def test_startup_samples_are_random_then_bo(mixed_params, mixed_obj):
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=0, **FAST), mixed_params)
    kinds = []
    for _ in range(6):
        s = opt.suggest()
        kinds.append(s.predictions["kind"])
        y, c = mixed_obj(s.config)
        opt.observe(s, y, c)  # validates every value against its space
    assert kinds[:4] == ["random"] * 4 and kinds[4] == "bo"


def test_resampling_repeats_a_pareto_group(params_4d, cost_aware):
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=0, resample_frequency=3, **FAST),
                params_4d)
    kinds = []
    for _ in range(9):
        s = opt.suggest()
        kinds.append(s.predictions["kind"])
        if s.predictions["kind"] == "resample":
            front = [g.config for g in opt.pareto_front(observed=True)]
            assert s.config in front
        y, c = cost_aware(s.config)
        opt.observe(s, y, c)
    assert "resample" in kinds


def _line(x: float) -> dict:
    return {"x": x}


def test_resampling_example_resamples_the_single_run_of_the_plain_front():
    """The worked example of carbs.pareto (maximising): A is resampled (0.0, 1.0; cost 1); B,
    C, D are single runs that beat A's mean but not its best sample. The conservative front is
    [A] alone; the resample goes to B (the least-sampled, cheapest group of the plain front),
    which then joins the conservative front."""
    params = [Param("x", LinearSpace(min=0.0, max=10.0), 0.0)]
    opt = CARBS(CARBSConfig(better_direction_sign=+1, seed=0, resample_frequency=5, **FAST),
                params)
    for x, out, cost in ((0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 0.6, 2.0), (2.0, 0.7, 3.0),
                         (3.0, 0.8, 4.0)):
        opt.observe(_line(x), out, cost)
    assert [g.config for g in opt.pareto_front()] == [_line(0.0)]
    s = opt.suggest()
    assert s.predictions["kind"] == "resample" and s.config == _line(1.0)
    opt.observe(s, 0.9, 2.0)
    assert [g.config for g in opt.pareto_front()] == [_line(0.0), _line(1.0)]


def test_resampling_period_counts_successful_observations_only():
    params = [Param("x", LinearSpace(min=0.0, max=10.0), 5.0)]
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=0, resample_frequency=3,
                            num_random_samples=1, **FAST), params)
    for x in (1.0, 2.0, 3.0):
        opt.observe(_line(x), x, 1.0 + x)
    s = opt.suggest()
    assert s.predictions["kind"] == "resample"
    opt.forget(s.suggestion_id)
    for x in (4.0, 5.0, 6.0, 7.0):  # failures do not count towards the next resample
        opt.observe(_line(x), float("nan"), 1.0)
    assert opt.suggest().predictions["kind"] == "bo"
    for x in (1.5, 2.5, 3.5):
        opt.observe(_line(x), x, 1.0 + x)
    assert opt.suggest().predictions["kind"] == "resample"


def test_failing_region_is_avoided():
    """Every run with a > 0.3 fails; the optimum (a = 0.1) lies just outside that region."""
    params = [Param("a", LinearSpace(min=-2, max=2), 0.0), Param("b", LinearSpace(min=-2, max=2), 0.0)]
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=3, resample_frequency=0, **FAST),
                params)
    failures, p_succ = [], []
    for _ in range(30):
        s = opt.suggest()
        a, b = s.config["a"], s.config["b"]
        failed = a > 0.3
        failures.append(failed)
        if "p_success" in s.predictions:
            p_succ.append(s.predictions["p_success"])
        opt.observe(s, float("nan") if failed else (a - 0.1) ** 2 + b**2, 1.0 + abs(b))
    assert sum(failures) >= 1  # the region was found
    assert np.mean(failures[-12:]) <= 0.25, failures
    assert min(p_succ) < 1.0  # the success model was used
    p_in, p_out = opt.surrogates.success.predict(np.array([[0.7, 0.0], [-0.1, 0.0]]))
    assert p_in < 0.5 < p_out
    assert sum(o.is_failure for o in opt.observations) == sum(failures)


def test_nan_and_explicit_failures_are_recorded(params_4d):
    opt = CARBS(CARBSConfig(better_direction_sign=-1), params_4d)
    s = opt.suggest()
    opt.observe(s, float("inf"), 2.0)
    s = opt.suggest()
    opt.observe(s, 0.0, 2.0, is_failure=True)
    assert [o.is_failure for o in opt.observations] == [True, True]
    assert list(opt.to_dataframe().status) == ["failed", "failed"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"output": 1.0, "cost": 0.0}, "cost"),
        ({"output": 1.0, "cost": -2.0}, "cost"),
        ({"output": 1.0, "cost": float("nan")}, "cost"),
        ({"output": "bad", "cost": 1.0}, "output"),
    ],
)
def test_observe_rejects_bad_numbers(params_4d, kwargs, match):
    opt = CARBS(CARBSConfig(better_direction_sign=-1), params_4d)
    s = opt.suggest()
    with pytest.raises(ValueError, match=match):
        opt.observe(s, **kwargs)


@pytest.mark.parametrize(
    "config, match",
    [
        ({"a": 0.0, "b": 0.0, "c": 0.0, "size": 10.0, "zzz": 1.0}, "zzz"),
        ({"a": 0.0, "b": 0.0, "size": 10.0}, "missing.*'c'"),
        ({"a": 5.0, "b": 0.0, "c": 0.0, "size": 10.0}, "'a'.*out of bounds"),
        ({"a": 0.0, "b": 0.0, "c": 0.0, "size": 0.5}, "'size'.*out of bounds"),
        ({"a": "x", "b": 0.0, "c": 0.0, "size": 10.0}, "'a'.*number"),
    ],
)
def test_observe_rejects_bad_configs(params_4d, config, match):
    opt = CARBS(CARBSConfig(better_direction_sign=-1), params_4d)
    with pytest.raises(ValueError, match=match):
        opt.observe(config, output=1.0, cost=1.0)


def test_categorical_value_errors(mixed_params):
    opt = CARBS(CARBSConfig(better_direction_sign=-1), mixed_params)
    cfg = dict(opt.suggest().config, act="tanh")
    with pytest.raises(ValueError, match="'act'.*choices"):
        opt.observe(cfg, 1.0, 1.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"better_direction_sign": 0}, "better_direction_sign"),
        ({"better_direction_sign": -1, "outstanding_suggestion_estimator": "x"},
         "outstanding_suggestion_estimator"),
        ({"better_direction_sign": -1, "initial_search_radius": 0.0}, "initial_search_radius"),
        ({"better_direction_sign": -1, "resample_frequency": -1}, "resample_frequency"),
        ({"better_direction_sign": -1, "max_suggestion_cost": 0.0}, "max_suggestion_cost"),
        ({"better_direction_sign": -1, "min_pareto_cost_fraction": 1.0}, "min_pareto_cost_fraction"),
    ],
)
def test_bad_config_fields(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CARBSConfig(**kwargs)


def test_forget_and_suggest_n_errors(params_4d):
    opt = CARBS(CARBSConfig(better_direction_sign=-1), params_4d)
    with pytest.raises(ValueError, match="suggestion_id"):
        opt.forget("nope")
    with pytest.raises(ValueError, match="n must be"):
        opt.suggest(0)


def test_max_suggestion_cost_is_respected(params_4d, cost_aware):
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=0, max_suggestion_cost=12.0,
                            resample_frequency=0, **FAST), params_4d)
    _warm(opt, 10, cost_aware)
    batch = [opt.suggest() for _ in range(3)]
    assert all(s.predictions["cost"] <= 12.0 for s in batch)
    # the cost model is good here (cost = size): the real costs respect the cap too
    assert all(cost_aware(s.config)[1] <= 12.0 * 1.25 for s in batch)



def test_max_suggestion_cost_per_call(params_4d, cost_aware):
    """A per-call cap (e.g. a fraction of a sweep's remaining budget) works like the config's,
    and the lower of the two applies."""
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=0, max_suggestion_cost=500.0,
                            resample_frequency=0, **FAST), params_4d)
    _warm(opt, 10, cost_aware)
    batch = opt.suggest(2, max_suggestion_cost=12.0)
    assert all(s.predictions["cost"] <= 12.0 for s in batch)
    assert opt.suggest(max_suggestion_cost=np.float64(1e9)).predictions["cost"] <= 500.0
    with pytest.raises(ValueError, match="max_suggestion_cost"):
        opt.suggest(max_suggestion_cost=0.0)
    with pytest.raises(ValueError, match="max_suggestion_cost"):
        opt.suggest(max_suggestion_cost="12")
    assert len(opt.suggest(np.int64(2))) == 2

def test_thread_safety_smoke(params_4d, cost_aware):
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=0, **FAST), params_4d)
    errors: list[BaseException] = []

    def worker():
        try:
            for _ in range(4):
                s = opt.suggest()
                y, c = cost_aware(s.config)
                opt.observe(s, y, c)
        except BaseException as e:  # noqa: BLE001 - surfaced by the assert below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    obs = opt.observations
    assert len(obs) == 16 and len({o.suggestion_id for o in obs}) == 16
    assert opt.outstanding == []


class _ThreadProbe(CARBS):
    """CARBS that records torch's and the BLAS pools' thread counts inside suggest()."""

    def _suggest_one(self, state):
        import threadpoolctl
        import torch

        blas = [p["num_threads"] for p in threadpoolctl.threadpool_info()
                if p["user_api"] == "blas"]
        self.seen = (torch.get_num_threads(), blas)
        return super()._suggest_one(state)


def test_num_threads_applies_inside_suggest_and_is_restored(params_4d):
    import threadpoolctl
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # the conftest pins 1; a caller's own setting must survive
        with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
            opt = _ThreadProbe(CARBSConfig(better_direction_sign=-1, num_threads=1), params_4d)
            opt.suggest()
            torch_inside, blas_inside = opt.seen
            assert torch_inside == 1 and all(n == 1 for n in blas_inside)
            assert torch.get_num_threads() == 2
            blas_after = [p["num_threads"] for p in threadpoolctl.threadpool_info()
                          if p["user_api"] == "blas"]
            assert all(n == 2 for n in blas_after)
            untouched = _ThreadProbe(CARBSConfig(better_direction_sign=-1, num_threads=None),
                                     params_4d)
            untouched.suggest()
            assert untouched.seen[0] == 2
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="num_threads"):
        CARBSConfig(better_direction_sign=-1, num_threads=0)


def test_maximising_is_the_mirror_of_minimising(params_4d, cost_aware):
    """better_direction_sign=+1 on -loss makes exactly the suggestions of -1 on loss, with
    predictions and Pareto fronts in the user's own sign."""
    mini = CARBS(CARBSConfig(better_direction_sign=-1, seed=5, resample_frequency=4, **FAST),
                 params_4d)
    maxi = CARBS(CARBSConfig(better_direction_sign=+1, seed=5, resample_frequency=4, **FAST),
                 params_4d)
    kinds = set()
    for _ in range(14):
        a, b = mini.suggest(), maxi.suggest()
        assert a.config == b.config
        kinds.add(a.predictions["kind"])
        if "output" in a.predictions:
            assert b.predictions["output"] == pytest.approx(-a.predictions["output"])
        y, c = cost_aware(a.config)
        mini.observe(a, y, c)
        maxi.observe(b, -y, c)
    assert {"random", "bo", "resample"} <= kinds
    fa, fb = mini.pareto_front(), maxi.pareto_front()
    assert [g.config for g in fa] == [g.config for g in fb]
    assert [g.output for g in fb] == pytest.approx([-g.output for g in fa])
    outputs = [g.output for g in fb]
    assert outputs == sorted(outputs) and len(set(outputs)) == len(outputs)  # better with cost
    outs = [o.output for o in maxi.observations]
    assert max(outs[4:]) > max(outs[:4])  # BO improved on the start-up runs, upwards


def test_sweep_longer_than_max_fit_points(params_4d, cost_aware):
    """Hyperparameters are fitted on a subsample; posteriors and the success model use every
    observation (every failure kept)."""
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=2, max_fit_points=12,
                            resample_frequency=0, **FAST), params_4d)
    for i in range(26):
        s = opt.suggest()
        y, c = cost_aware(s.config)
        opt.observe(s, float("nan") if i % 9 == 8 else y, c)
    s = opt.suggest()
    sur = opt.surrogates
    n_ok = sum(not o.is_failure for o in opt.observations)
    assert sur.output_gp.last_fit["n"] == 12 and sur.cost_gp.last_fit["n"] == 12
    assert len(sur.output_gp._x) >= n_ok and len(sur.cost_gp._x) == n_ok
    assert sur.has_success_model
    assert s.predictions["kind"] == "bo"
    # the posterior conditions on every success: it ranks the observed outputs as they are
    x_ok = np.stack([opt._obs_basic[i] for i, o in enumerate(opt.observations)
                     if not o.is_failure])
    pred = sur.predict(x_ok)
    y_ok = np.array([o.output for o in opt.observations if not o.is_failure])
    rank = lambda v: np.argsort(np.argsort(v))
    assert np.corrcoef(rank(pred.output_mean), rank(-y_ok))[0, 1] > 0.99  # 12 points: 0.95


def test_max_suggestion_cost_falls_back_to_the_cheapest_candidate(params_4d, cost_aware, caplog):
    """No candidate can be as cheap as the cap: suggest the cheapest one (by the real cost too)
    and say so."""
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=0, resample_frequency=0,
                            max_suggestion_cost=0.5, **FAST), params_4d)  # every run costs >= 1
    _warm(opt, 8, cost_aware)
    observed = [o.cost for o in opt.observations]
    with caplog.at_level("WARNING", logger="carbs"):
        s = opt.suggest()
    assert "cheapest" in caplog.text
    assert s.predictions["kind"] == "bo"
    real_cost = cost_aware(s.config)[1]
    assert real_cost <= min(observed) * 1.5
    assert real_cost < np.median(observed)
    # the record says why and stays strict JSON (the argmax's -inf score is not recorded)
    assert s.predictions["fallback"] == "cheapest candidate: no candidate within the cost cap"
    assert s.predictions["cap"] == 0.5 and s.predictions["acquisition"] is None
    json.loads(json.dumps(s.predictions, allow_nan=False))
    row = opt.to_dataframe().iloc[-1]
    assert json.loads(row["suggestion"])["fallback"] == s.predictions["fallback"]
    with caplog.at_level("WARNING", logger="carbs"):  # for a call's cap too
        t = opt.suggest(max_suggestion_cost=1e-3)
    json.dumps(t.predictions, allow_nan=False)
    assert t.predictions["cap"] == 1e-3


def test_cost_stratified_search_moves_both_ends_of_the_cost_range():
    """Cost grows with ``size`` (six decades); better runs cost more. The default search
    spreads its suggestions over costs below and above the start-up runs; the reference's
    high-cost clamping (is_cost_stratified=False) never goes below them."""
    params = [Param("a", LinearSpace(min=-2, max=2), 0.0),
              Param("size", LogSpace(min=1e-3, max=1e3), 1.0)]

    def run(stratified: bool, seed: int) -> tuple[float, float]:
        opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=seed,
                                is_cost_stratified=stratified, **FAST), params)
        costs = []
        for _ in range(16):
            s = opt.suggest()
            cost = s.config["size"]
            opt.observe(s, (s.config["a"] - 0.5) ** 2 + 1 / math.sqrt(cost), cost)
            costs.append(math.log10(cost))
        start, bo = costs[:4], costs[4:]
        return min(start) - min(bo), max(bo) - max(start)  # decades gained at each end

    below, above = zip(*(run(True, seed) for seed in range(3)))
    assert np.median(below) >= 0.5 and np.median(above) >= 0.5, (below, above)
    clamp_below = [run(False, seed)[0] for seed in range(3)]
    assert np.median(clamp_below) < 0.25, clamp_below
