"""Sweep settings: every bad input is an error naming the field and the fix, before any trial."""

import math

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from carbs import CategoricalSpace, LogSpace
from carbs.sweep.identity import check_identity
from carbs.sweep.outcome import interpret_result
from carbs.sweep.settings import (
    CARBSOptions,
    CARBSSweeperConf,
    SweepConfigError,
    check_param_paths,
    format_override,
    load_settings,
    param_from_spec,
)
from carbs.sweep.sweeper import check_arguments

SPACE = {"train.lr": {"space": "log", "center": 1e-3, "min": 1e-5, "max": 1e-1},
         "model.d_model": {"space": "log", "center": 128, "min": 32, "max": 512,
                           "integer": True, "rounding_factor": 32},
         "model.position": {"space": "categorical", "choices": ["rotary", "t5"]}}


def settings(**kw):
    return load_settings({"search_space": SPACE, "max_trials": 8, **kw})


def test_a_valid_sweep_parses():
    s = settings(direction="maximize", cost="metric.flops", carbs={"exploration_bias": 0.5})
    assert isinstance(s, CARBSSweeperConf) and s.is_async
    assert [p.name for p in s.params] == ["train.lr", "model.d_model", "model.position"]
    assert isinstance(s.params[0].space, LogSpace) and s.params[1].space.is_integer
    assert isinstance(s.params[2].space, CategoricalSpace) and s.params[2].search_center == "rotary"
    config = s.carbs_config()
    assert s.sign == 1 and config.better_direction_sign == 1
    assert config.exploration_bias == 0.5 and config.seed == 0
    assert s.identity()["space"]["train.lr"]["center"] == 1e-3
    assert s.identity(["a=1"], "lm")["fixed_overrides"] == ["a=1"]


def test_the_optimisers_options_are_typed_from_carbs_config():
    from dataclasses import fields

    from carbs import CARBSConfig

    names = {f.name for f in fields(CARBSOptions)}
    assert names == {f.name for f in fields(CARBSConfig)} - {
        "better_direction_sign", "seed", "max_suggestion_cost"}
    assert CARBSOptions().fit_max_iter == CARBSConfig(better_direction_sign=1).fit_max_iter


@pytest.mark.parametrize("spec, match", [
    ({"space": "exp", "center": 1}, r"train\.lr\.space='exp' is not a space type"),
    ({"center": 1}, r"train\.lr\.space: missing"),
    ({"space": "log", "center": 1e-3, "min": 1e-1, "max": 1e-5}, r"train\.lr: .*min .* must be < max"),
    ({"space": "log", "center": 1.0, "min": 1e-5, "max": 1e-1}, r"train\.lr: .*outside the space bounds"),
    ({"space": "log", "min": 1e-5, "max": 1e-1}, r"train\.lr\.center: missing"),
    ({"space": "log", "center": 1e-3, "lower": 0}, r"train\.lr: unknown field\(s\) \['lower'\]"),
    ({"space": "log", "center": "fast"}, r"train\.lr: center must be a number"),
    ({"space": "categorical", "choices": ["a"], "center": "a"}, r"train\.lr: .*at least 2"),
    ({"space": "categorical", "choices": ["a", "b"], "min": 0}, r"train\.lr: .*do not apply"),
    ({"space": "log", "center": 1e-3, "integer": "yes"}, r"integer must be true or false"),
    (3e-4, r"train\.lr: must be a mapping"),
])
def test_bad_parameter_specs_name_the_field(spec, match):
    with pytest.raises(SweepConfigError, match=match):
        param_from_spec("train.lr", spec)


def test_yaml_strings_for_numbers_are_accepted():
    p = param_from_spec("train.lr", {"space": "log", "center": "1e-3", "min": "1e-5", "max": 0.1})
    assert p.search_center == pytest.approx(1e-3) and p.space.min == pytest.approx(1e-5)


@pytest.mark.parametrize("kw, match", [
    ({"max_trials": None}, "set a budget"),
    ({"max_trials": 0}, r"max_trials must be an integer >= 1"),
    ({"max_trials": "many"}, (r"hydra\.sweeper\.max_trials: Value 'many' of type 'str' could "
                              r"not be converted to Integer")),
    ({"max_trials": None, "max_cost": -1.0}, r"max_cost must be a finite number > 0"),
    ({"max_cost": math.inf}, r"max_cost must be a finite number > 0"),
    ({"n_jobs": 0}, r"n_jobs must be an integer >= 1"),
    ({"direction": "down"}, (r"direction: Invalid value 'down', expected one of \[minimize, "
                             r"maximize\]")),
    ({"schedule": "eager"}, r"schedule: Invalid value 'eager'"),
    ({"final_wave": "trim"}, (r"hydra\.sweeper\.final_wave: Invalid value 'trim', expected one "
                              r"of \[shorten, none\]")),
    ({"on_interrupted": "ignore"}, r"on_interrupted: Invalid value 'ignore'"),
    ({"max_consecutive_failures": 0}, r"max_consecutive_failures"),
    ({"max_trial_cost_fraction": 2.0, "max_cost": 10.0}, r"max_trial_cost_fraction must be in"),
    ({"trial_timeout_s": 0.0}, r"trial_timeout_s must be a finite number > 0"),
    ({"carbs": {"warp_speed": 9}}, r"carbs\.warp_speed: Key 'warp_speed' not in 'CARBSOptions'"),
    ({"carbs": {"seed": 3}}, r"carbs\.seed: set it as hydra\.sweeper\.seed"),
    ({"carbs": {"fit_max_iter": "lots"}}, r"carbs\.fit_max_iter: Value 'lots'"),
    ({"carbs": {"resample_frequency": -1}}, r"carbs: resample_frequency must be >= 0"),
    ({"objective": ""}, r"objective must name a result key"),
    ({"search_space": {}}, r"search_space is empty"),
    ({"bogus": 1}, r"hydra\.sweeper\.bogus: Key 'bogus' not in 'CARBSSweeperConf'"),
])
def test_bad_sweep_settings_name_the_field(kw, match):
    with pytest.raises(SweepConfigError, match=match):
        settings(**kw)


def test_parameter_paths_are_checked_against_the_composed_config():
    cfg = OmegaConf.create({"train": {"lr": 1e-3, "steps": 10}, "model": {"d_model": 128,
                                                                          "position": "rotary"}})
    check_param_paths(cfg, settings().params)
    bad = [param_from_spec("train.lrr", SPACE["train.lr"])]
    with pytest.raises(SweepConfigError, match=r"train\.lrr.*not a key of the composed config"):
        check_param_paths(cfg, bad)
    with pytest.raises(SweepConfigError, match=r"'train' is a config section"):
        check_param_paths(cfg, [param_from_spec("train", SPACE["train.lr"])])
    steps = param_from_spec("train.steps", {"space": "log", "center": 10, "min": 1, "max": 100})
    with pytest.raises(SweepConfigError, match=r"train\.steps.*integer in the config.*integer: true"):
        check_param_paths(cfg, [steps])
    position = param_from_spec("model.position", {"space": "linear", "center": 1, "min": 0,
                                                  "max": 2})
    with pytest.raises(SweepConfigError, match=r"model\.position.*a string in the config "
                                               r"\('rotary'\).*space: categorical"):
        check_param_paths(cfg, [position])


@pytest.mark.parametrize("value", [1e-3, 3.0000000000000004e-05, 256, True, False, "gelu",
                                   "it's", "a b=c", 0.1])
def test_overrides_parse_back_to_the_same_value(value):
    (o,) = OverridesParser.create().parse_overrides([format_override("a.b", value)])
    assert o.value() == value and type(o.value()) is type(value)


def test_command_line_arguments():
    s = settings()
    assert check_arguments(["+sweep=lm_tiny", "data=kjv", "train.tokens=1e5"], s) == [
        "+sweep=lm_tiny", "data=kjv", "train.tokens=1e5"]
    with pytest.raises(SweepConfigError, match=r"train\.wd=0\.1,0\.2: .*does not take sweep"):
        check_arguments(["train.wd=0.1,0.2"], s)
    with pytest.raises(SweepConfigError, match=r"train\.lr=0\.1: train\.lr is tuned"):
        check_arguments(["train.lr=0.1"], s)


def test_a_journal_of_another_sweep_is_refused(tmp_path):
    s = settings()
    meta = {"sweep": "x", **s.identity(["data=kjv"], "lm")}
    check_identity(meta, s.identity(["data=kjv"], "lm"), tmp_path)
    other = settings(search_space={**SPACE, "train.lr": {**SPACE["train.lr"], "max": 1.0}})
    with pytest.raises(SweepConfigError, match=r"search_space\.train\.lr: differs from the journal"):
        check_identity(meta, other.identity(), tmp_path)
    with pytest.raises(SweepConfigError, match=r"hydra\.sweeper\.cost='metric\.flops' differs"):
        check_identity(meta, settings(cost="metric.flops").identity(), tmp_path)
    with pytest.raises(SweepConfigError, match=r"only in the journal \['data=kjv'\], only now "
                                               r"\['data=c4'\]"):
        check_identity(meta, s.identity(["data=c4"], "lm"), tmp_path)
    with pytest.raises(SweepConfigError, match=r"config 'ppo' differs from the journal's 'lm'"):
        check_identity(meta, s.identity(["data=kjv"], "ppo"), tmp_path)
    check_identity({"sweep": "x", **s.identity()}, s.identity(["a=1"], "lm"), tmp_path)


@pytest.mark.parametrize("result, status, error", [
    ({"output": 1.0, "cost": 2.0, "metric.x": 3}, "ok", None),
    ({"output": math.nan, "cost": 2.0}, "failed", "not a finite number"),
    ({"output": None, "cost": 2.0}, "failed", "not a finite number"),
    ({"output": 1.0, "cost": 0.0}, "failed", "must be a finite number > 0"),
    ({"output": math.nan, "cost": 5.0, "status": "failed", "error": "OOM"}, "failed", "OOM"),
])
def test_results_are_interpreted(result, status, error):
    out = interpret_result(result, "output", "cost")
    assert out.status == status and out.schema_error is None
    if error:
        assert error in out.error
    if result.get("status") == "failed":
        assert out.cost == 5.0  # a failure keeps the cost it spent


def test_results_that_never_carry_the_objective_stop_the_sweep():
    assert interpret_result({"loss": 1.0, "cost": 1.0}, "output", "cost").schema_error
    assert interpret_result({"output": 1.0}, "output", "cost").schema_error
    assert interpret_result(0.5, "output", "cost").schema_error
    nested = interpret_result({"metric": {"val": 1.5}, "cost": 1.0}, "metric.val", "cost")
    assert nested.status == "ok" and nested.output == 1.5


@pytest.mark.parametrize("hydra_cfg, level, disabled", [
    ({}, "INFO", False),  # no logging config: INFO
    ({"hydra_logging": {"version": 1, "root": {"level": "INFO"},
                        "disable_existing_loggers": False}}, "INFO", False),  # Hydra's default
    ({"hydra_logging": {"version": 1, "root": {"level": "ERROR"},
                        "disable_existing_loggers": True}}, "ERROR", True),  # .../disabled
    ({"hydra_logging": {"version": 1, "root": {"level": "INFO"},
                        "loggers": {"carbs": {"level": "WARNING"}}}}, "WARNING", False),
    ({"verbose": "carbs.sweep", "hydra_logging": {"version": 1, "root": {"level": "INFO"}}},
     "DEBUG", False),
])
def test_the_sweeps_console_follows_its_hydra_logging_config(hydra_cfg, level, disabled):
    import logging

    from carbs.sweep.progress import console_setting

    got = console_setting(OmegaConf.create({"hydra": hydra_cfg}))
    assert got == (getattr(logging, level), disabled)
