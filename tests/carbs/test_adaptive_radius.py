"""The opt-in adaptive search radius: it grows while runs join the front, shrinks while they do
not, and travels with the JSON state."""

from carbs import CARBS, CARBSConfig, LinearSpace, Param

FAST = {"num_candidates_for_suggestion_per_dim": 30, "fit_max_iter": 25}


def _params():
    return [Param("x", LinearSpace(min=-100.0, max=100.0), search_center=0.0),
            Param("y", LinearSpace(min=-100.0, max=100.0), search_center=0.0)]


def _radius(opt) -> float:
    """The search radius in use (its factor is part of the public snapshot)."""
    return opt.config.initial_search_radius * opt.snapshot().radius_factor


def _observe(opt, x, out, cost):
    opt.observe({"x": x, "y": 0.0}, output=out, cost=cost)


def test_radius_grows_while_runs_join_the_front_and_shrinks_while_they_do_not():
    opt = CARBS(CARBSConfig(better_direction_sign=-1, adaptive_search_radius=True), _params())
    r0 = _radius(opt)
    for i in range(4):  # start-up samples leave the radius alone
        _observe(opt, float(i), 10.0 - i, 1.0 + i)
    assert _radius(opt) == r0
    for i in range(4, 8):  # each run is cheaper-per-quality and better: it joins the front
        _observe(opt, float(i), 10.0 - i, 1.0 + i)
    assert _radius(opt) > r0
    grown = _radius(opt)
    for i in range(8, 16):  # dominated runs: expensive and worse than the front
        _observe(opt, float(i) + 0.5, 50.0, 100.0)
    assert _radius(opt) < grown


def test_fixed_radius_by_default():
    opt = CARBS(CARBSConfig(better_direction_sign=-1), _params())
    for i in range(10):
        _observe(opt, float(i), 10.0 - i, 1.0 + i)
    assert _radius(opt) == opt.config.initial_search_radius


def test_adaptive_state_round_trip_continues_exactly(tmp_path, params_4d, cost_aware):
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=3, adaptive_search_radius=True,
                            **FAST), params_4d)
    for _ in range(12):
        s = opt.suggest()
        y, c = cost_aware(s.config)
        opt.observe(s, y, c)
    path = tmp_path / "state.json"
    opt.save(path)
    loaded = CARBS.load(path)
    assert _radius(loaded) == _radius(opt)
    a, b = loaded.snapshot(), opt.snapshot()
    assert (a.front_hits, a.front_misses) == (b.front_hits, b.front_misses)
    assert opt.suggest().config == loaded.suggest().config
