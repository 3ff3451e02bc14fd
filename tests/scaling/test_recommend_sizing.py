"""Sizing a configuration to a parameter count (scaling.recommend.sizing.solve_for)."""

import numpy as np
import pytest

from scaling.recommend.sizing import CountModel, solve_for
from tays import LinearSpace, LogSpace, Param

SPECS = {"d": Param("d", LogSpace(min=16, max=1024, is_integer=True), 64),
         "L": Param("L", LinearSpace(min=1, max=12, is_integer=True), 2)}


def _model(const: float) -> CountModel:
    # params = const + 12 L d^2 (exponent rows over (d, L))
    return CountModel("metric.params", ("d", "L"), np.array([[0.0, 0.0], [2.0, 1.0]]),
                      np.array([const, 12.0]), "polynomial", 0.0, 10)


def test_a_reachable_target_is_met_within_rounding() -> None:
    vals, got, cont = solve_for(_model(1000.0), 2e5, {"d": 64, "L": 2}, {"d": 1.0, "L": 1.0},
                                SPECS)
    assert _model(1000.0)(cont) == pytest.approx(2e5, rel=1e-6)  # before rounding: exact
    assert got == pytest.approx(2e5, rel=0.25)  # integer sizes
    assert 16 <= vals["d"] <= 1024 and 1 <= vals["L"] <= 12


def test_a_target_below_the_models_constant_pins_the_sizes_at_their_minimum() -> None:
    # a count model fitted on a few shapes can have a constant above the target: no size
    # reaches it, and the nearest within bounds is the smallest (it used to raise ValueError
    # and end `scaling recommend` with an error)
    vals, got, _ = solve_for(_model(5e5), 3e5, {"d": 64, "L": 2}, {"d": 1.0, "L": 1.0},
                             SPECS)
    assert vals == {"d": 16, "L": 1}
    assert got > 3e5


def test_without_a_bound_to_head_for_it_still_says_why() -> None:
    with pytest.raises(ValueError, match="cannot reach metric.params"):
        solve_for(_model(5e5), 3e5, {"d": 64, "L": 2}, {"d": 1.0, "L": 1.0}, SPECS,
                  lower=False)
