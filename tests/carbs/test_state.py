"""Versioned JSON state: exact continuation, safety, warm starts."""

import json

import pytest

from carbs import CARBS, SCHEMA_VERSION, CARBSConfig, LinearSpace, Param

FAST = {"num_candidates_for_suggestion_per_dim": 30, "fit_max_iter": 25}


def _run(opt, n, fn, fail_every=0):
    for i in range(n):
        s = opt.suggest()
        y, c = fn(s.config)
        if fail_every and i % fail_every == fail_every - 1:
            y = float("nan")
        opt.observe(s, y, c)


def test_round_trip_continues_exactly(tmp_path, mixed_params, mixed_obj):
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=7, **FAST), mixed_params)
    _run(opt, 9, mixed_obj, fail_every=4)  # failures -> the success model is part of the state
    pending = opt.suggest()  # an outstanding suggestion travels too
    path = tmp_path / "state.json"
    opt.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # atomic: no temp file left
    loaded = CARBS.load(path)
    assert [o.config for o in loaded.observations] == [o.config for o in opt.observations]
    assert [s.suggestion_id for s in loaded.outstanding] == [pending.suggestion_id]
    a, b = opt.suggest(2), loaded.suggest(2)
    assert [s.config for s in a] == [s.config for s in b]
    assert [s.suggestion_id for s in a] == [s.suggestion_id for s in b]
    y, c = mixed_obj(a[0].config)
    opt.observe(a[0], y, c)
    loaded.observe(b[0], y, c)
    assert opt.suggest().config == loaded.suggest().config


def test_a_snapshot_restores_exactly_and_is_a_copy(params_4d, cost_aware):
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=3, **FAST), params_4d)
    _run(opt, 6, cost_aware)
    snap = opt.snapshot()
    twin = CARBS(opt.config, opt.params)
    twin.restore(snap)
    _run(opt, 1, cost_aware)  # the snapshot does not follow the optimiser
    assert len(snap.observations) == 6 and len(opt.observations) == 7
    twin_again = CARBS(opt.config, opt.params)
    twin_again.restore(snap)
    assert twin.suggest().config == twin_again.suggest().config
    with pytest.raises(ValueError, match="parameters"):
        CARBS(opt.config, opt.params[:3]).restore(snap)


def test_state_is_plain_versioned_json(tmp_path, params_4d, cost_aware):
    opt = CARBS(CARBSConfig(better_direction_sign=-1, **FAST), params_4d)
    _run(opt, 5, cost_aware)
    path = tmp_path / "s.json"
    opt.save(path)
    d = json.loads(path.read_text())
    assert d["schema_version"] == SCHEMA_VERSION
    assert {"config", "params", "observations", "outstanding", "rng", "hyperparameters"} <= set(d)
    assert isinstance(d["rng"]["torch"], list)
    d["schema_version"] = 999
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="schema_version"):
        CARBS.load(path)
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="carbs-state"):
        CARBS.load(path)


def test_warm_start_with_new_param(tmp_path, params_4d, cost_aware):
    old = CARBS(CARBSConfig(better_direction_sign=-1, **FAST), params_4d)
    _run(old, 6, cost_aware)
    path = tmp_path / "old.json"
    old.save(path)
    new_params = params_4d + [Param("d", LinearSpace(min=-1, max=1), 0.5)]
    cfg = CARBSConfig(better_direction_sign=-1, seed=1, **FAST)
    with pytest.raises(ValueError, match="'d'.*fixed_values"):
        CARBS.warm_start(cfg, new_params, from_state=path)
    opt = CARBS.warm_start(cfg, new_params, from_state=path, fixed_values={"d": 0.0},
                           recenter_on_best=True)
    assert len(opt.observations) == 6
    assert all(o.config["d"] == 0.0 for o in opt.observations)
    best = min(old.observations, key=lambda o: o.output)
    assert {p.name: p.search_center for p in opt.params}["a"] == pytest.approx(best.config["a"])
    assert opt.suggest().predictions["kind"] in ("bo", "resample")
    with pytest.raises(ValueError, match="'size'"):
        CARBS.warm_start(cfg, params_4d[:3], from_state=path)


def test_resample_counter_travels_and_old_states_still_load(tmp_path, params_4d, cost_aware):
    """The resampling period counts successful observations; states written before that
    counter existed ("obs_at_last_resample", all observations) load with the same meaning."""
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=4, resample_frequency=3, **FAST),
                params_4d)
    _run(opt, 8, cost_aware, fail_every=3)
    d = opt.state_dict()
    assert d["successes_at_last_resample"] == opt._ok_at_last_resample > 0
    old = {k: v for k, v in d.items() if k != "successes_at_last_resample"}
    n_obs = next(i + 1 for i in range(len(opt.observations))
                 if sum(not o.is_failure for o in opt.observations[: i + 1])
                 == opt._ok_at_last_resample)
    old["obs_at_last_resample"] = n_obs
    a, b = CARBS.from_state_dict(d), CARBS.from_state_dict(old)
    assert a._ok_at_last_resample == b._ok_at_last_resample == opt._ok_at_last_resample
    assert [s.config for s in a.suggest(3)] == [s.config for s in b.suggest(3)]
