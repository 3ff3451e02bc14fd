"""tays.searchspace: a search space as data, in both spellings, and back."""
from __future__ import annotations

import pytest

from tays import (
    CategoricalSpace,
    LogSpace,
    Param,
    SearchSpaceError,
    param_from_spec,
    param_to_spec,
    params_from_search_space,
)

YAML = {"train.lr": {"space": "log", "center": 3e-3, "min": 1e-4, "max": 0.05},
        "model.d_model": {"space": "log", "center": 96, "min": 32, "max": 384, "integer": True,
                          "rounding_factor": 32},
        "model.act": {"space": "categorical", "choices": ["gelu", "relu"], "center": "relu"}}


def test_the_journal_spelling_reads_as_the_yaml_spelling():
    params = params_from_search_space(YAML)
    journal = {p.name: {**p.space.to_json(), "center": p.search_center} for p in params}
    assert params_from_search_space(journal) == params
    assert isinstance(params[0].space, LogSpace) and params[1].space.rounding_factor == 32
    assert isinstance(params[2].space, CategoricalSpace) and params[2].search_center == "relu"


def test_param_to_spec_is_the_inverse():
    for p in params_from_search_space(YAML):
        assert param_from_spec(p.name, param_to_spec(p)) == p


@pytest.mark.parametrize("spec, match", [
    ({"space": "cubic", "center": 1}, r"^search_space\.x\.space='cubic' is not a space type"),
    ({"space": "log", "min": 1, "max": 2}, r"^search_space\.x\.center: missing"),
    ({"space": "log", "center": 5, "min": 1, "max": 2}, r"^search_space\.x: .*outside"),
    ({"type": "LogSpace", "center": 1, "lower": 0}, r"^search_space\.x: unknown field"),
])
def test_errors_name_the_entry_and_field(spec, match):
    with pytest.raises(SearchSpaceError, match=match):
        param_from_spec("x", spec)


def test_a_prefix_names_where_the_space_lives():
    with pytest.raises(SearchSpaceError, match=r"^hydra\.sweeper\.search_space is empty"):
        params_from_search_space({}, prefix="hydra.sweeper.search_space")
    assert isinstance(param_from_spec("x", {"choices": [1, 2]}), Param)
