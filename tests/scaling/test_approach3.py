"""Approach 3 reproduces Epoch AI's replication of Chinchilla (Besiroglu et al. 2024)."""

import numpy as np
import pytest

from scaling import (
    FitError,
    closed_form_allocation,
    default_grid,
    fit_approach3,
    load_table,
)
from scaling.parametric import objective


@pytest.fixture(scope="module")
def epoch_fit(epoch_csv):
    return fit_approach3(load_table(epoch_csv), drop_highest=5, n_bootstrap=300, seed=0,
                         progress=False)


def test_grid_is_the_papers():
    grid = default_grid()
    assert grid.shape == (4500, 5)
    assert sorted(set(grid[:, 3])) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert sorted(set(grid[:, 2])) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert sorted(set(grid[:, 0])) == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]


def test_reproduces_epoch_parameters(epoch_fit):
    p = epoch_fit.params
    assert epoch_fit.n_points == 240
    assert p["alpha"] == pytest.approx(0.3473, abs=0.002)
    assert p["beta"] == pytest.approx(0.3672, abs=0.002)
    assert p["E"] == pytest.approx(1.817, abs=0.01)
    assert p["log_A"] == pytest.approx(6.170, abs=0.05)
    assert p["log_B"] == pytest.approx(7.670, abs=0.05)
    # The paper's objective is the Huber loss *summed* over runs (the mean is 240x smaller).
    assert epoch_fit.objective == pytest.approx(1.01827e-3, rel=1e-5)


def test_objective_is_the_sum(epoch_csv):
    t = load_table(epoch_csv).sort_values("output").iloc[:240]
    n, d, loss = (t[c].to_numpy() for c in ("metric.params", "metric.tokens", "output"))
    theta = np.array([6.1699, 7.6698, 0.5973, 0.3473, 0.3672])
    f = objective(theta, np.log(n), np.log(d), np.log(loss))
    assert f == pytest.approx(1.0183e-3, rel=1e-3)


def test_compute_optimal_at_chinchilla_budget(epoch_fit):
    with pytest.warns(UserWarning, match="1.65 decades outside"):
        opt = epoch_fit.compute_optimal([5.76e23]).iloc[0]
    assert epoch_fit.params["a"] == pytest.approx(0.514, abs=0.001)
    assert opt["tokens_per_param"] == pytest.approx(17.9, abs=0.2)
    assert opt["N_opt"] == pytest.approx(7.3e10, rel=0.02)
    assert opt["D_opt"] == pytest.approx(1.31e12, rel=0.02)
    assert opt["N_low"] < opt["N_opt"] < opt["N_high"]
    assert opt["extrapolation_decades"] == pytest.approx(np.log10(5.76e23 / 1.2956e22), abs=0.01)
    # the paper's own (unrounded) parameters
    paper = closed_form_allocation(5.76e23, 0.33917, 0.28491, np.exp(6.0073),
                                   np.exp(6.0179)).iloc[0]
    assert 0.28491 / (0.33917 + 0.28491) == pytest.approx(0.4565, abs=1e-4)
    assert paper["tokens_per_param"] == pytest.approx(58.9, abs=0.3)


def test_bootstrap_standard_errors_match_epoch(epoch_fit):
    se = epoch_fit.se
    assert se["alpha"] == pytest.approx(0.015, rel=0.35)
    assert se["beta"] == pytest.approx(0.021, rel=0.35)
    assert se["E"] == pytest.approx(0.026, rel=0.35)
    lo, hi = epoch_fit.ci["alpha"]
    assert lo < epoch_fit.alpha < hi
    d = epoch_fit.to_dict()
    assert d["n_points"] == 240 and "alpha" in d["ci"]


def test_recovers_planted_law(make_isoflop_table, true_law):
    table = make_isoflop_table(seed=4, noise=0.002)
    fit = fit_approach3(table, n_bootstrap=200, progress=False)
    for name in ("alpha", "beta", "E"):
        lo, hi = fit.ci[name]
        assert lo < true_law[name] < hi, name
    assert fit.params["a"] == pytest.approx(0.28 / 0.62, abs=0.02)


def test_too_few_runs_is_a_clear_error(make_isoflop_table):
    with pytest.raises(FitError, match="need at least 8 runs"):
        fit_approach3(make_isoflop_table().iloc[:5], progress=False)
