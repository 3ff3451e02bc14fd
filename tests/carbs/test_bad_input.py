"""Hostile input to carbs: every case raises a clear error naming the file / record / field,
and nothing is silently coerced, double counted or dropped."""

import json
import re

import pytest
import torch

from carbs import (
    CARBS,
    CARBSConfig,
    CategoricalSpace,
    LinearSpace,
    LogSpace,
    Param,
    StateFileError,
)

FAST = {"num_candidates_for_suggestion_per_dim": 20, "fit_max_iter": 20}


@pytest.fixture
def params():
    return [
        Param("lr", LogSpace(min=1e-5, max=1.0), 1e-3),
        Param("width", LogSpace(min=16, max=4096, is_integer=True, rounding_factor=8), 256),
        Param("act", CategoricalSpace(["gelu", "relu"]), "gelu"),
    ]


@pytest.fixture
def opt(params):
    return CARBS(CARBSConfig(better_direction_sign=-1, **FAST), params)


CFG = {"lr": 1e-3, "width": 256, "act": "gelu"}


@pytest.mark.parametrize("output", ["1.5", True, None, [1.0]])
def test_output_must_be_a_real_number(opt, output):
    with pytest.raises(ValueError, match="output must be a number"):
        opt.observe(CFG, output=output, cost=1.0)
    assert opt.observations == []


@pytest.mark.parametrize("cost", ["2", True, float("inf")])
def test_cost_must_be_a_finite_number(opt, cost):
    with pytest.raises(ValueError, match="cost"):
        opt.observe(CFG, output=1.0, cost=cost)


def test_failed_runs_may_report_zero_cost_successes_may_not(opt):
    opt.observe(CFG, output=float("nan"), cost=0.0)  # failed before its first step
    opt.observe(CFG, output=2.0, cost=0.0, is_failure=True)
    assert [o.is_failure for o in opt.observations] == [True, True]
    with pytest.raises(ValueError, match="cost must be > 0 for a successful run"):
        opt.observe(CFG, output=1.0, cost=0.0)
    with pytest.raises(ValueError, match="failed run must be >= 0"):
        opt.observe(CFG, output=float("nan"), cost=-1.0)


def test_integer_values_must_lie_on_the_grid(opt):
    with pytest.raises(ValueError, match=r"'width'.*multiple of rounding_factor 8.*nearest allowed "
                                         r"value is 96"):
        opt.observe({**CFG, "width": 100}, output=1.0, cost=1.0)
    ints = CARBS(CARBSConfig(better_direction_sign=-1),
                 [Param("n", LinearSpace(min=1, max=1000, is_integer=True, scale=10), 256)])
    with pytest.raises(ValueError, match="'n'.*must be an integer"):
        ints.observe({"n": 257.3}, output=1.0, cost=1.0)
    ints.observe({"n": 257.0}, output=1.0, cost=1.0)
    assert ints.observations[0].config["n"] == 257 and isinstance(
        ints.observations[0].config["n"], int)


def test_a_suggestion_is_observed_once(opt):
    s = opt.suggest()
    opt.observe(s, output=1.0, cost=1.0)
    with pytest.raises(ValueError, match=f"{s.suggestion_id}.*already observed"):
        opt.observe(s, output=1.0, cost=1.0)
    assert len(opt.to_dataframe()) == 1


def test_a_number_where_a_choice_is_expected_is_rejected(opt):
    with pytest.raises(ValueError, match="'lr'.*must be a number"):
        opt.observe({**CFG, "lr": "0.001"}, output=1.0, cost=1.0)
    with pytest.raises(ValueError, match="'act'.*not one of the choices"):
        opt.observe({**CFG, "act": "tanh"}, output=1.0, cost=1.0)


# --- state files --------------------------------------------------------------------------------
@pytest.fixture
def state_file(tmp_path, opt):
    for i in range(3):
        s = opt.suggest()
        opt.observe(s, output=1.0 + i, cost=1.0 + i)
    opt.suggest()  # one outstanding suggestion
    path = tmp_path / "state.json"
    opt.save(path)
    return path


def _edit(path, fn):
    d = json.loads(path.read_text())
    fn(d)
    path.write_text(json.dumps(d))


def test_truncated_and_empty_state_files_name_the_path(state_file):
    text = state_file.read_text()
    state_file.write_text(text[: len(text) // 2])
    with pytest.raises(StateFileError, match=f"{state_file}.*not valid JSON.*truncated"):
        CARBS.load(state_file)
    state_file.write_text("")
    with pytest.raises(StateFileError, match=f"{state_file}.*empty"):
        CARBS.load(state_file)
    with pytest.raises(StateFileError, match="no such CARBS state file"):
        CARBS.load(state_file.parent / "missing.json")


def test_missing_keys_are_named(state_file):
    _edit(state_file, lambda d: d.pop("observations"))
    with pytest.raises(StateFileError, match=r"lacks the key\(s\) \['observations'\]"):
        CARBS.load(state_file)


@pytest.mark.parametrize("edit, field", [
    (lambda d: d["observations"][1]["config"].update(act="tanh"), "'act'.*not one of the choices"),
    (lambda d: d["observations"][1]["config"].update(lr=5.0), "'lr'.*out of bounds"),
    (lambda d: d["observations"][1]["config"].update(depth=3), r"unknown parameter\(s\) \['depth'\]"),
    (lambda d: d["observations"][1]["config"].pop("width"), r"missing parameter\(s\) \['width'\]"),
    (lambda d: d["observations"][1].update(cost=0.0), "cost must be > 0"),
    (lambda d: d["observations"][1].update(cost=-2.0, is_failure=True), "must be >= 0"),
    (lambda d: d["observations"][1].update(output="1.5"), "output must be a number"),
    (lambda d: d["observations"][1].update(
        suggestion_id=d["observations"][0]["suggestion_id"]), "observed twice"),
])
def test_every_observation_is_validated_on_load(state_file, edit, field):
    _edit(state_file, edit)
    with pytest.raises(StateFileError, match=rf"{state_file}: observations\[1\]: .*{field}"):
        CARBS.load(state_file)


def test_outstanding_suggestions_are_validated_on_load(state_file):
    _edit(state_file, lambda d: d["outstanding"][0]["config"].update(act="tanh"))
    with pytest.raises(StateFileError, match=r"outstanding\[0\]: .*'act'"):
        CARBS.load(state_file)


def test_renamed_parameter_is_named(state_file):
    def rename(d):
        d["params"][0]["name"] = "learning_rate"
    _edit(state_file, rename)
    with pytest.raises(StateFileError, match=r"observations\[0\].*\['lr'\]"):
        CARBS.load(state_file)


def test_unknown_config_field_is_named(state_file):
    _edit(state_file, lambda d: d["config"].update(flux_capacitor=1))
    with pytest.raises(StateFileError, match="'config'.*flux_capacitor"):
        CARBS.load(state_file)


def test_a_valid_state_still_loads(state_file):
    loaded = CARBS.load(state_file)
    assert len(loaded.observations) == 3 and len(loaded.outstanding) == 1


# --- warm start, bounds, devices ----------------------------------------------------------------
def test_warm_start_with_a_fixed_value_outside_the_new_space_raises(state_file, params):
    new = params + [Param("depth", LinearSpace(min=1, max=8, is_integer=True, scale=4), 2)]
    cfg = CARBSConfig(better_direction_sign=-1, **FAST)
    with pytest.raises(ValueError, match=r"fixed_values\['depth'\]=12.*outside the new space"):
        CARBS.warm_start(cfg, new, state_file, fixed_values={"depth": 12})
    assert len(CARBS.warm_start(cfg, new, state_file, fixed_values={"depth": 2}).observations) == 3


def test_no_point_inside_the_bounds_names_the_parameter():
    tight = [Param("a", LinearSpace(min=0.0, max=0.001), 0.0005),
             Param("b", LinearSpace(min=-5, max=5), 0.0)]
    opt = CARBS(CARBSConfig(better_direction_sign=-1, initial_search_radius=5.0), tight)
    with pytest.raises(RuntimeError, match="'a'.*out of bounds"):
        for _ in range(200):
            opt.suggest()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(params):
    with pytest.raises(ValueError, match="device='cuda' but CUDA is not available; use device=cpu or auto"):
        CARBS(CARBSConfig(better_direction_sign=-1, device="cuda"), params)


def test_outputs_near_the_float_limit_are_still_plotted(opt, tmp_path):
    """An objective of ~1e308 made matplotlib's linear axis overflow ('arange: cannot compute
    length'); the sweep lost its plots. The axis turns symmetric-log instead."""
    from carbs import plot_convergence, plot_params_vs_cost, plot_pareto_front

    for i, output in enumerate([1e308, 1.5e308, -1e308, 1.0, 1.7e308]):
        opt.observe({**CFG, "width": 64 + 8 * i}, output, float(i + 1))
    for plot in (plot_pareto_front, plot_params_vs_cost, plot_convergence):
        path = tmp_path / f"{plot.__name__}.png"
        plot(opt, path)
        assert path.stat().st_size > 0


# --- config types, exhausted spaces -------------------------------------------------------------
@pytest.mark.parametrize("field, value", [
    ("initial_search_radius", "0.3"), ("seed", 1.5), ("num_random_samples", "4"),
    ("exploration_bias", None), ("resample_frequency", 5.0), ("max_suggestion_cost", "1e18"),
    ("is_pareto_group_selection_conservative", "yes"), ("adaptive_search_radius", 1),
    ("num_threads", 1.0), ("cost_target_rule", 3), ("total_budget", "1e21"),
    ("max_budget_fraction", True), ("cost_window", 1e18), ("device", None),
    ("total_trials", 30.0), ("budget_pacing", "4"),
])
def test_every_config_field_names_itself_when_of_the_wrong_type(field, value):
    with pytest.raises(TypeError, match=rf"CARBSConfig\.{field} must be .*got {re.escape(repr(value))}"):
        CARBSConfig(better_direction_sign=-1, **{field: value})


def test_config_numbers_of_numpy_types_are_accepted_and_normalised():
    import numpy as np

    cfg = CARBSConfig(better_direction_sign=np.int64(-1), initial_search_radius=np.float32(0.5),
                      seed=np.int64(3), cost_window=[1, np.float64(1e3)])
    assert cfg.initial_search_radius == 0.5 and type(cfg.seed) is int
    assert cfg.cost_window == (1.0, 1000.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"cost_window": (10.0, 1.0)}, "cost_window must be two finite costs 0 < cheapest < dearest"),
    ({"cost_window": (1.0, 2.0, 3.0)}, r"cost_window must be a \(cheapest, dearest\) pair"),
    ({"total_budget": 0.0}, "total_budget must be a finite number > 0"),
    ({"max_budget_fraction": 0.0}, r"max_budget_fraction must be in \(0, 1\]"),
    ({"cost_target_rule": "wide"}, "cost_target_rule must be one of"),
    ({"cost_target_origin": "best"}, "cost_target_origin must be one of"),
    ({"cost_extension_max_factor": 1.0}, "cost_extension_max_factor must be"),
    ({"total_trials": 0}, "total_trials must be an int >= 1"),
    ({"budget_pacing": 0.5}, "budget_pacing must be a finite number >= 1"),
])
def test_budget_and_window_values_are_checked(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        CARBSConfig(better_direction_sign=-1, **kwargs)


def test_an_exhausted_two_value_space_is_called_exhausted_not_out_of_bounds():
    opt = CARBS(CARBSConfig(better_direction_sign=-1),
                [Param("n", LinearSpace(min=0, max=1, is_integer=True, scale=4), 0)])
    assert sorted(s.config["n"] for s in opt.suggest(2)) == [0, 1]
    with pytest.raises(RuntimeError, match="search space is exhausted.*2 outstanding.*too small"
                       ) as err:
        opt.suggest()
    assert "out of bounds" not in str(err.value)
