import numpy as np
import pytest

from scaling import FitError, extrapolation_decades, fit_power_law, fit_saturating


def test_log_power_law_recovered_within_interval():
    rng = np.random.default_rng(1)
    cost = np.logspace(15, 20, 20)
    k, e = 3e-3, -0.3
    h = k * cost ** e * np.exp(0.05 * rng.standard_normal(cost.size))
    fit = fit_power_law(cost, h, "log", n_bootstrap=500, seed=0)
    assert fit.ci["exponent"][0] < e < fit.ci["exponent"][1]
    assert fit.ci["k"][0] < k < fit.ci["k"][1]
    assert abs(fit.params["exponent"] - e) < 0.02
    assert fit.n_points == 20 and set(fit.to_dict()["params"]) == {"k", "exponent"}


@pytest.mark.parametrize("space", ["linear", "logit"])
def test_basic_space_laws(space):
    rng = np.random.default_rng(2)
    cost = np.logspace(6, 10, 15)
    t = 0.2 - 0.15 * np.log10(cost) + 0.02 * rng.standard_normal(cost.size)
    value = t if space == "linear" else 1 / (1 + 10 ** -t)
    fit = fit_power_law(cost, value, space, n_bootstrap=300)
    assert fit.ci["slope"][0] < -0.15 < fit.ci["slope"][1]
    assert fit.ci["intercept"][0] < 0.2 < fit.ci["intercept"][1]
    pred = fit.predict([1e8])
    assert pred["low"][0] < pred["value"][0] < pred["high"][0]
    if space == "logit":
        assert 0 < pred["value"][0] < 1


def test_prediction_reports_and_warns_extrapolation():
    cost = np.logspace(1, 3, 10)
    fit = fit_power_law(cost, 2 * cost ** 0.5, "log", n_bootstrap=100)
    inside = fit.predict([50.0])
    assert inside["extrapolation_decades"][0] == 0.0
    assert inside["value"][0] == pytest.approx(2 * 50 ** 0.5, rel=1e-9)
    with pytest.warns(UserWarning, match="3.00 decades outside"):
        far = fit.predict([1e6])
    assert far["extrapolation_decades"][0] == pytest.approx(3.0)
    assert extrapolation_decades([1e-1], 1.0, 10.0)[0] == pytest.approx(1.0)


def test_saturating_law_recovered_within_interval():
    rng = np.random.default_rng(3)
    cost = np.logspace(17, 22, 25)
    E, A, alpha = 1.8, 1e3, 0.17
    loss = (E + A * cost ** -alpha) * np.exp(0.004 * rng.standard_normal(cost.size))
    fit = fit_saturating(cost, loss, n_bootstrap=200, seed=0)
    for name, true in (("E", E), ("A", A), ("alpha", alpha)):
        assert fit.ci[name][0] < true < fit.ci[name][1], name
    assert abs(fit.alpha - alpha) < 0.03 and abs(fit.E - E) < 0.1
    pred = fit.predict([1e21])
    assert pred["value"][0] == pytest.approx(E + A * 1e21 ** -alpha, rel=0.01)


def test_power_law_errors_are_clear():
    with pytest.raises(FitError, match="too few points"):
        fit_power_law([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(FitError, match="non-positive"):
        fit_power_law([0.0, 1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(FitError, match="space='linear'"):
        fit_power_law([1.0, 2.0, 3.0], [-1.0, 2.0, 3.0], "log")
    with pytest.raises(FitError, match=r"\(0, 1\)"):
        fit_power_law([1.0, 2.0, 3.0], [0.5, 2.0, 3.0], "logit")
    with pytest.raises(ValueError, match="space="):
        fit_power_law([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], "sqrt")
    with pytest.raises(FitError, match="too few points for a saturating law"):
        fit_saturating([1.0, 2.0, 3.0], [3.0, 2.0, 1.5])
