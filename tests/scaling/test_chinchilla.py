"""Approaches 1 and 2 recover the planted compute-optimal exponent."""

import numpy as np
import pandas as pd
import pytest

from scaling import (
    FitError,
    chinchilla_data,
    fit_approach1,
    fit_approach2,
    group_budgets,
    isoflop_minima,
)


def _a(law):
    return law["beta"] / (law["alpha"] + law["beta"])


def test_group_budgets_by_relative_tolerance():
    labels = group_budgets([1.0e19, 1.05e19, 0.97e19, 3e19, 3.2e19, 1e20])
    assert labels.tolist() == [0, 0, 0, 1, 1, 2]


def test_approach2_recovers_planted_exponent(make_isoflop_table, true_law):
    table = make_isoflop_table(seed=0, noise=0.002)
    # jitter budgets by up to 3% to exercise the grouping tolerance
    rng = np.random.default_rng(1)
    table["metric.flops"] *= np.exp(0.03 * rng.uniform(-1, 1, len(table)))
    table = table.drop(columns=["metric.tokens"])  # D derived from C = 6 N D
    minima = isoflop_minima(table, rel_tol=0.1)
    assert len(minima) == 7 and (minima["n_runs"] == 9).all()
    fit = fit_approach2(table, n_bootstrap=300)
    assert fit.a == pytest.approx(_a(true_law), abs=0.02)
    assert fit.a + fit.b == pytest.approx(1.0, abs=1e-6)
    assert fit.ci["a"][0] < _a(true_law) < fit.ci["a"][1]
    assert set(fit.to_dict()["params"]) == {"a", "b", "k_N", "k_D"}


def test_approach1_recovers_planted_exponent(true_law):
    # training-curve style data: many model sizes, checkpoints at many token counts
    rng = np.random.default_rng(0)
    rows = []
    for n in np.logspace(7, 10, 40):
        for d in np.logspace(8.5, 12, 60):
            loss = (true_law["E"] + true_law["A"] / n ** true_law["alpha"]
                    + true_law["B"] / d ** true_law["beta"]) * np.exp(1e-4 * rng.standard_normal())
            rows.append({"output": loss, "cost": 6 * n * d, "metric.params": n,
                         "metric.tokens": d})
    table = pd.DataFrame(rows)
    fit = fit_approach1(table, n_bins=40, n_bootstrap=300)
    assert fit.a == pytest.approx(_a(true_law), abs=0.03)
    assert fit.b == pytest.approx(1 - _a(true_law), abs=0.03)
    assert fit.n_points >= 10
    opt = fit.compute_optimal([1e21]).iloc[0]
    assert opt["N_low"] <= opt["N_opt"] <= opt["N_high"]


def test_missing_columns_and_too_few_budgets(make_isoflop_table):
    with pytest.raises(ValueError, match="metric.params"):
        chinchilla_data(pd.DataFrame({"output": [1.0], "cost": [1.0]}))
    few = make_isoflop_table(budgets=[1e19, 1e20])
    with pytest.raises(FitError, match="approach2: only 2 usable IsoFLOP"):
        fit_approach2(few)
