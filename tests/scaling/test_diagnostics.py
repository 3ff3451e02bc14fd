"""Fit diagnostics: each warning fires on its cause, names it, and stays quiet otherwise."""

import numpy as np
import pytest

from scaling import fit_approach3, fit_power_law
from scaling.diagnostics import (
    approach3_grid_edge,
    check_fit,
    collapsed_intervals,
    far_extrapolation,
    grid_edge,
    sparse_front,
)


def test_grid_edge_names_the_parameter_and_the_grid():
    bounds = {"alpha": (0.0, 2.0), "beta": (0.0, 2.0)}
    (d,) = grid_edge("approach3", {"alpha": 2.7, "beta": 0.3}, bounds)
    assert d.code == "grid_edge" and d.name == "alpha"
    assert "alpha = 2.7 is beyond the top of its start grid [0, 2]" in d.message
    assert "mixing two loss definitions" in d.message
    assert grid_edge("approach3", {"alpha": 0.34, "beta": 0.28}, bounds) == []
    (d,) = grid_edge("approach3", {"alpha": 0.01, "beta": 0.3}, bounds)
    assert "at the bottom" in d.message


def test_collapsed_interval_is_flagged_but_a_narrow_one_is_not():
    (d,) = collapsed_intervals("approach3", {"alpha": 2.6756},
                               {"alpha": (2.6756, 2.6756), "beta": (0.2, 0.4)})
    assert d.code == "collapsed_interval" and d.name == "alpha"
    assert "collapsed to a point ([2.6756, 2.6756])" in d.message
    assert collapsed_intervals("x", {"a": 1.0}, {"a": (0.999, 1.001)}) == []


def test_sparse_front_and_far_extrapolation():
    assert sparse_front(np.logspace(15, 18, 12)) == []
    (d,) = sparse_front(np.logspace(15, 18, 4))
    assert "4 front points over 3.00 decades (1.3 per decade" in d.message
    (d,) = sparse_front([1e15, 2e15, 3e15, 4e15])
    assert "spans only 0.60 decade" in d.message
    assert far_extrapolation([1e19, 1e20], 1e15, 1e18) == []
    (d,) = far_extrapolation([1e19, 1e21], 1e15, 1e18)
    assert d.subject == "budget 1e+21" and "3.00 decades beyond the data" in d.message


def test_approach3_on_a_table_mixing_nats_and_bits_is_flagged(make_isoflop_table):
    table = make_isoflop_table(seed=0)
    assert approach3_grid_edge(fit_approach3(table, progress=False)) == []
    mixed = table.copy()
    bits = np.random.default_rng(0).random(len(mixed)) < 0.5
    mixed.loc[bits, "output"] /= np.log(2)  # half the runs report bits, half nats
    diags = check_fit("approach3", fit_approach3(mixed, n_bootstrap=20, progress=False))
    assert any(d.code == "grid_edge" for d in diags)


def test_an_exact_law_is_not_a_collapsed_interval():
    cost = np.logspace(10, 14, 9)
    exact = fit_power_law(cost, cost / 1e6, "log", n_bootstrap=50)
    assert check_fit("param:tokens", exact) == []
    noisy = fit_power_law(cost, cost ** 0.5 * np.exp(np.random.default_rng(0).normal(0, 0.1, 9)),
                          "log", n_bootstrap=50)
    assert check_fit("param:width", noisy) == []
    assert noisy.ci["exponent"][1] - noisy.ci["exponent"][0] == pytest.approx(0.1, abs=0.09)


def test_scaling_report_lists_the_warnings(make_isoflop_table, tmp_path):
    from scaling.report import ReportConfig, run_report

    mixed = make_isoflop_table(seed=0)
    bits = np.random.default_rng(0).random(len(mixed)) < 0.5
    mixed.loc[bits, "output"] /= np.log(2)
    run_report(ReportConfig(src=mixed, out=tmp_path / "rep", n_bootstrap=20, plots=False,
                            progress=False, budgets=[1e25]))
    md = (tmp_path / "rep" / "summary.md").read_text()
    assert "## Warnings" in md
    assert "start grid" in md and "decades beyond the data" in md
