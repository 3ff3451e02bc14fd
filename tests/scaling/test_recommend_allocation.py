"""The loss surface's allocation: followed when its exponents are sane, reported always."""

from __future__ import annotations

import math

from scaling.chinchilla import EPOCH_REFIT, Approach3Fit
from scaling.recommend.allocation import allocation_at, surface_allocation, surface_follows


class _Surface:
    """The fields of a fitted N, D loss surface that the allocation reads."""

    def __init__(self, alpha: float, beta: float, kind: str = "nd"):
        import numpy as np

        self.kind, self.n_points, self.level = kind, 50, 0.95
        self.theta = np.array([math.log(EPOCH_REFIT.A), math.log(EPOCH_REFIT.B),
                               math.log(EPOCH_REFIT.E), alpha, beta, 0.0, 0.0])
        self.samples = np.empty((0, 7))


def test_the_surface_law_gives_the_true_allocation_when_it_is_the_law() -> None:
    fit = surface_allocation(_Surface(EPOCH_REFIT.alpha, EPOCH_REFIT.beta), 1e15, 1e18)
    assert isinstance(fit, Approach3Fit) and surface_follows(fit)[0]
    n = allocation_at("surface", fit, 1e20)["N"]
    n_true = float(EPOCH_REFIT.compute_optimal(1e20)["N_opt"].iloc[0])
    assert n == n_true or abs(math.log(n / n_true)) < 1e-9


def test_a_surface_without_n_and_d_or_with_edge_exponents_is_not_followed() -> None:
    assert surface_allocation(_Surface(0.3, 0.3, kind="cost"), 1.0, 2.0) is None
    assert surface_follows(None) == (False, "no N, D loss surface was fitted")
    ok, why = surface_follows(surface_allocation(_Surface(2.9, 0.3), 1e15, 1e18))
    assert not ok and "outside" in why
