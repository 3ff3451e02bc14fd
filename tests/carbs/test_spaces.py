"""Contract suite every space passes, plus validation errors."""

import logging

import numpy as np
import pytest

from carbs import CARBS, CARBSConfig, CategoricalSpace, LinearSpace, LogitSpace, LogSpace, Param
from carbs.encoder import ParamEncoder
from carbs.spaces import check_integer_reachability

NUMERIC_SPACES = {
    "linear": (LinearSpace(min=-3.0, max=5.0, scale=2.0), 1.0),
    "linear_unbounded": (LinearSpace(), 0.5),
    "linear_int": (LinearSpace(min=0, max=100, scale=10.0, is_integer=True), 40),
    "linear_int_round": (LinearSpace(min=0, max=512, scale=100.0, is_integer=True,
                                     rounding_factor=8), 64),
    "log": (LogSpace(min=1e-5, max=1.0, scale=0.5), 1e-3),
    "log_int": (LogSpace(min=16, max=4096, is_integer=True, rounding_factor=8), 256),
    "logit": (LogitSpace(min=0.0, max=1.0), 0.1),
    "logit_bounded": (LogitSpace(min=0.5, max=0.999, scale=2.0), 0.9),
}


@pytest.mark.parametrize("key", sorted(NUMERIC_SPACES))
def test_numeric_space_contract(key):
    space, center = NUMERIC_SPACES[key]
    rng = np.random.default_rng(0)
    b0 = float(space.to_basic(center))
    # round trip of the center
    assert np.isclose(float(space.from_basic(b0)), center, rtol=1e-9, atol=1e-12)
    # random basic points around the center: mapped values respect bounds after filtering,
    # are on the integer grid, and round trip
    basic = b0 + rng.normal(0, 0.3, size=500)
    x = space.from_basic(basic)
    ok = space.contains(x)
    assert ok.sum() > 100
    x = x[ok]
    if space.min is not None:
        assert (x >= space.min).all()
    if space.max is not None:
        assert (x <= space.max).all()
    if space.is_integer:
        assert np.allclose(x / space.rounding_factor, np.round(x / space.rounding_factor))
        # neighbouring values are reachable with the default search radius
        assert len(np.unique(x)) >= 3
    assert np.allclose(space.from_basic(space.to_basic(x)), x, rtol=1e-9)


@pytest.mark.parametrize("key", sorted(NUMERIC_SPACES))
def test_encoder_round_trip_every_space(key):
    space, center = NUMERIC_SPACES[key]
    enc = ParamEncoder([Param("p", space, center), Param("cat", CategoricalSpace(["a", "b"]), "b")])
    rows = enc.to_basic([{"p": center, "cat": "b"}])
    assert enc.from_basic(rows)[0]["cat"] == "b"
    assert np.isclose(enc.from_basic(rows)[0]["p"], center)
    _rounded, valid = enc.round_basic(rows + 1e-12)
    assert valid.all()


def test_categorical_space_contract():
    sp = CategoricalSpace(choices=[False, True])
    enc = ParamEncoder([Param("flag", sp, True)])
    row = enc.to_basic([{"flag": True}])
    assert row.tolist() == [[0.0, 1.0]]
    assert enc.from_basic(row)[0]["flag"] is True
    assert sp.index(1) == -1  # True and 1 are different choices
    with pytest.raises(ValueError, match="choices"):
        CategoricalSpace(choices=["a"])


def test_integer_reachability_autofix_warns(caplog):
    p = Param("n", LinearSpace(min=0, max=100, is_integer=True), 10)  # gap 1 > radius 0.3
    with caplog.at_level(logging.WARNING, logger="carbs"):
        (fixed,) = check_integer_reachability([p], 0.3)
    assert "n" in caplog.text and "scale" in caplog.text
    assert fixed.space.neighbour_gap(10) <= 0.3 + 1e-9


def test_integer_reachability_explicit_scale_raises():
    p = Param("layers", LinearSpace(min=1, max=48, scale=1.0, is_integer=True), 12)
    with pytest.raises(ValueError, match="layers.*scale >="):
        CARBS(CARBSConfig(better_direction_sign=-1), [p])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: LinearSpace(min=1.0, max=1.0), "min"),
        (lambda: LinearSpace(min=2.0, max=1.0), "min"),
        (lambda: LogSpace(min=0.0, max=1.0), "min must be > 0"),
        (lambda: LogSpace(min=-1.0, max=1.0), "min must be > 0"),
        (lambda: LogitSpace(min=0.0, max=1.5), "max=1.5 is outside"),
        (lambda: LinearSpace(scale=0.0), "scale"),
        (lambda: Param("lr", LogSpace(min=1e-5, max=1.0), 2.0), "lr.*search_center"),
        (lambda: Param("p", LogitSpace(), 1.0), "p.*search_center"),
        (lambda: Param("act", CategoricalSpace(["gelu", "relu"]), "tanh"), "act.*choices"),
        (lambda: ParamEncoder([Param("x", LinearSpace(), 0.0), Param("x", LinearSpace(), 1.0)]),
         "duplicate names.*x"),
    ],
)
def test_bad_spaces_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
