"""Every benchmark problem's stated optimum / reference front, checked by brute-force grids."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from benchmarks.tuners import (
    PROBLEM_NAMES,
    ChinchillaProblem,
    Dim,
    FidelityProblem,
    SyntheticProblem,
    get_problem,
)
from benchmarks.tuners.base import Budget
from benchmarks.tuners.chinchilla_sim import chinchilla_loss, expected_loss, lr_opt, n_params
from benchmarks.tuners.runner import RunSpec, run_one
from benchmarks.tuners.space import check_config
from benchmarks.tuners.variants import KNOB_OPTIMA, NORMS, OPTIMIZERS, VARIANTS, start_cost


def _grid(bounds: list[tuple[float, float]], n: int) -> np.ndarray:
    axes = [np.linspace(lo, hi, n) for lo, hi in bounds]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(bounds))


def _grid_then_polish(fn, bounds, n: int, n_starts: int = 5) -> tuple[float, float]:
    """(min over the grid, min after L-BFGS-B polishing from the best grid points)."""
    pts = _grid(bounds, n)
    vals = fn(pts)
    best = float(vals.min())
    polished = best
    for i in np.argsort(vals)[:n_starts]:
        res = minimize(
            lambda x: float(fn(x)),
            pts[i],
            bounds=bounds,
            method="L-BFGS-B",
            options={"ftol": 1e-14, "gtol": 1e-10},
        )
        polished = min(polished, float(res.fun))
    return best, polished


@pytest.mark.parametrize(("name", "n"), [("branin", 401), ("hartmann6", 8)])
def test_cost_free_optimum_matches_grid_search(name: str, n: int) -> None:
    prob = SyntheticProblem(name)
    bounds = [(d.low, d.high) for d in prob.dims]
    grid_min, polished = _grid_then_polish(prob.fn, bounds, n)
    assert grid_min >= prob.optimal_value - 1e-9
    assert polished == pytest.approx(prob.optimal_value, abs=1e-5)


def test_rosenbrock_optimum_matches_grid_search() -> None:
    prob = SyntheticProblem("rosenbrock10")
    # 16 values per axis (step 1, so 1.0 is on the grid) over 5 free axes, the rest at 1.
    axis = np.linspace(-5.0, 10.0, 16)
    free = np.stack(np.meshgrid(*[axis] * 5, indexing="ij"), axis=-1).reshape(-1, 5)
    pts = np.concatenate([free, np.ones((len(free), 5))], axis=1)
    vals = prob.fn(pts)
    assert vals.min() == pytest.approx(prob.optimal_value, abs=1e-12)
    rng = np.random.default_rng(0)
    assert prob.fn(rng.uniform(-5, 10, size=(100_000, 10))).min() > prob.optimal_value


@pytest.mark.parametrize(("name", "n"), [("branin", 301), ("hartmann6", 8)])
def test_fidelity_front_matches_grid_search(name: str, n: int) -> None:
    prob = FidelityProblem(name)
    bounds = [(d.low, d.high) for d in prob.dims[:-1]]
    for s in (0.01, 0.1, 0.5, 1.0):
        ref = float(prob.reference_front(np.array([s]))[0])
        grid_min, polished = _grid_then_polish(lambda x, s=s: prob.expected(x, s), bounds, n)
        assert grid_min >= ref - 1e-9, s
        assert polished == pytest.approx(ref, abs=1e-5), s
    assert prob.optimal_value == pytest.approx(float(prob.reference_front(np.array([1.0]))[0]))
    assert np.isinf(prob.reference_front(np.array([0.005]))[0])


def test_rosenbrock_fidelity_front() -> None:
    prob = FidelityProblem("rosenbrock10")
    rng = np.random.default_rng(1)
    for s in (0.01, 0.3, 1.0):
        ref = float(prob.reference_front(np.array([s]))[0])
        x_star = 1.0 + prob.shift * (1 - s)
        assert np.all(x_star <= 10.0)
        assert float(prob.expected(x_star, s)) == pytest.approx(ref, abs=1e-9)
        assert prob.expected(rng.uniform(-5, 10, size=(50_000, 10)), s).min() > ref


def test_chinchilla_optimum_by_six_dim_grid() -> None:
    prob = ChinchillaProblem()
    width = np.geomspace(64, 4096, 6).round()
    depth = np.geomspace(2, 48, 5).round()
    tokens = np.geomspace(1e7, 1e11, 6)
    lr = np.geomspace(1e-5, 1.0, 41)
    warmup = np.linspace(0.0, 0.5, 26)
    wd = np.linspace(0.0, 0.3, 16)
    w, d, t, l, u, r = np.meshgrid(width, depth, tokens, lr, warmup, wd, indexing="ij", sparse=True)
    vals = expected_loss(w, d, t, l, u, r)
    assert vals.min() >= prob.optimal_value - 1e-12
    assert vals.min() == pytest.approx(prob.optimal_value, abs=3e-3)
    # The reference front is a lower bound for every grid point at its own cost.
    cost = (6.0 * n_params(w, d) * t)[..., 0, 0, 0]  # shape (width, depth, tokens)
    front = prob.reference_front(cost)
    assert np.all(vals.min(axis=(3, 4, 5)) >= front - 1e-9)


@pytest.mark.parametrize("cost", [1e15, 1e17, 1e19, 1e21])
def test_chinchilla_front_is_attained_by_grid(cost: float) -> None:
    prob = ChinchillaProblem()
    widths = np.arange(64, 4097)[:, None]
    depths = np.arange(2, 49)[None, :]
    n = n_params(widths, depths)
    d = cost / (6.0 * n)
    ok = (d >= 1e7) & (d <= 1e11)
    loss = np.where(ok, chinchilla_loss(n, np.clip(d, 1e7, 1e11)), np.inf)
    ref = float(prob.reference_front(np.array([cost]))[0])
    assert loss.min() >= ref - 1e-9
    assert loss.min() == pytest.approx(ref, abs=1e-3)


def test_chinchilla_divergence_is_a_failure_with_cost() -> None:
    prob = ChinchillaProblem()
    cfg = prob.search_center()
    n = n_params(cfg["width"], cfg["depth"])
    cfg["lr"] = float(min(1.0, 20 * lr_opt(n)))
    ev = prob.evaluate(cfg, np.random.default_rng(0))
    assert ev.failed and math.isnan(ev.output) and ev.cost > 0 and "diverged" in ev.error


def test_every_problem_evaluates_its_center() -> None:
    for name in PROBLEM_NAMES:
        prob = get_problem(name)
        if name == "mlp-digits":
            continue  # trains a network; covered by its own test
        ev = prob.evaluate(prob.search_center(), np.random.default_rng(0))
        assert math.isfinite(ev.output) and ev.cost > 0, name
        if prob.optimal_value is not None:
            assert ev.noise_free >= prob.optimal_value - 1e-9, name


def test_mlp_digits_is_real_and_reproducible() -> None:
    prob = get_problem("mlp-digits")
    cfg = {"hidden": 16, "lr": 1e-2, "alpha": 1e-4, "batch_size": 128, "epochs": 3}
    a = prob.evaluate(cfg, np.random.default_rng([0, 1]))
    b = prob.evaluate(cfg, np.random.default_rng([0, 1]))
    assert a.output == b.output and a.cost == b.cost
    assert a.cost == a.metrics["epochs_run"] * 1257
    assert 0.0 < a.output < 3.0 and 0.0 <= a.metrics["accuracy"] <= 1.0
    assert prob.reference_front(np.array([1e4])) is None and prob.optimal_value is None


def test_bad_configs_and_dims_name_the_field() -> None:
    prob = get_problem("branin")
    with pytest.raises(ValueError, match="missing"):
        prob.evaluate({"x0": 1.0}, np.random.default_rng(0))
    with pytest.raises(ValueError, match="'x1'.*finite"):
        prob.evaluate({"x0": 1.0, "x1": float("nan")}, np.random.default_rng(0))
    with pytest.raises(ValueError, match="log=True needs low > 0"):
        Dim("lr", 0.0, 1.0, log=True)
    with pytest.raises(ValueError, match="low < high"):
        Dim("x", 2.0, 1.0)
    with pytest.raises(ValueError, match="unknown problem"):
        get_problem("nope")


# --- the cost-aware variants (benchmarks/tuners/variants.py) ------------------------------------
VARIANT_NAMES = [n for n in PROBLEM_NAMES if n in VARIANTS]


def test_the_suite_has_its_variants_each_with_a_window_a_budget_and_a_front() -> None:
    assert len(VARIANT_NAMES) >= 6
    for name in VARIANT_NAMES:
        prob = get_problem(name)
        lo, hi = prob.cost_window
        assert prob.cost_aware and 0 < lo < hi, name
        assert start_cost(prob) < prob.budget.cost, name
        ref = prob.reference_front(np.geomspace(lo, hi, 9))
        assert np.all(np.isfinite(ref)) and np.all(np.diff(ref) <= 1e-12), name
        c0 = start_cost(prob)  # the start is not on the front (there is something to find)
        assert prob.center_value() > float(prob.reference_front(np.array([c0]))[0]), name


@pytest.mark.parametrize("cost", [1e13, 1e16, 1e20])
def test_wide_box_front_is_attained_by_grid(cost: float) -> None:
    prob = get_problem("chinchilla-wide")
    n = n_params(np.arange(16, 8193)[:, None], np.arange(1, 65)[None, :])
    d = cost / (6.0 * n)
    loss = np.where((d >= 1e6) & (d <= 1e12), chinchilla_loss(n, np.clip(d, 1e6, 1e12)), np.inf)
    ref = float(prob.reference_front(np.array([cost]))[0])
    assert loss.min() >= ref - 1e-9
    assert loss.min() == pytest.approx(ref, abs=1e-3)


def test_variant_starts_and_budgets_are_what_they_say() -> None:
    assert start_cost(get_problem("chinchilla-wide")) == pytest.approx(6.2e15, rel=0.02)
    assert start_cost(get_problem("chinchilla-start-low")) < 1e14 / 5
    assert 1e18 < start_cost(get_problem("chinchilla-start-high")) < 1e19
    for name, factor in (("chinchilla-budget10x", 10), ("chinchilla-budget1000x", 1000)):
        prob = get_problem(name)
        assert prob.budget.cost / start_cost(prob) == pytest.approx(factor, rel=0.02)
    assert get_problem("chinchilla-noisy").noise_sd == 0.05
    wide = get_problem("hartmann6-cost-wide")
    assert wide.search_center()["fidelity"] == 0.1 and wide.dims[-1].low == 1e-8
    assert np.isfinite(wide.reference_front(np.array([1e-8]))[0])


def test_extra_parameters_cost_nothing_at_their_optimum() -> None:
    base = ChinchillaProblem()
    cfg = {"width": 1024, "depth": 12, "tokens": 3e9, "lr": 1e-3, "warmup": 0.05,
           "weight_decay": 0.1}
    loss = base.expected(cfg)[0]
    cat = get_problem("chinchilla-cat")
    assert cat.expected({**cfg, "optimizer": "adamw", "norm": "pre-layernorm"})[0] == loss
    assert cat.expected({**cfg, "optimizer": "sgd", "norm": "pre-layernorm"})[0] > loss + 0.2
    wide20 = get_problem("chinchilla-20d")
    knobs = {f"knob{k:02d}": float(v) for k, v in enumerate(KNOB_OPTIMA)}
    assert len(wide20.dims) == 20
    assert wide20.expected({**cfg, **knobs})[0] == pytest.approx(loss, abs=1e-12)
    assert wide20.expected({**cfg, **{k: 0.5 for k in knobs}})[0] > loss + 0.05


def test_the_lr_cliff_diverges_at_twice_the_optimum() -> None:
    prob = get_problem("chinchilla-lr-cliff")
    cfg = prob.search_center()
    n = n_params(cfg["width"], cfg["depth"])
    ok = prob.evaluate({**cfg, "lr": float(1.9 * lr_opt(n))}, np.random.default_rng(0))
    bad = prob.evaluate({**cfg, "lr": float(2.1 * lr_opt(n))}, np.random.default_rng(0))
    assert not ok.failed and bad.failed and bad.cost == ok.cost


def test_categorical_dims_take_a_choice_or_its_index() -> None:
    dim = Dim.categorical("opt", ("adamw", "sgd", "lion"))
    assert dim.is_categorical and dim.center() == "adamw"
    assert check_config((dim,), {"opt": "sgd"}) == {"opt": "sgd"}
    assert check_config((dim,), {"opt": 2}) == {"opt": "lion"}
    assert check_config((dim,), {"opt": 7.4}) == {"opt": "lion"}  # clipped, as numbers are
    assert [dim.from_unit(u) for u in (0.0, 0.34, 0.99, 1.0)] == ["adamw", "sgd", "lion", "lion"]
    with pytest.raises(ValueError, match=r"'opt' must be one of \['adamw', 'sgd', 'lion'\]"):
        check_config((dim,), {"opt": "adam"})
    with pytest.raises(ValueError, match="at least 2 distinct choices"):
        Dim.categorical("x", ("a", "a"))
    with pytest.raises(ValueError, match="Dim.categorical"):
        Dim("x", 0, 3, integer=True, choices=("a", "b"))


@pytest.mark.parametrize("tuner", ["carbs", "tpe", "random"])
def test_every_core_tuner_searches_the_categoricals(tuner: str) -> None:
    spec = RunSpec("chinchilla-cat", tuner, 0, Budget(1e30, 12))
    rows = run_one(spec).rows
    assert len(rows) == 12
    assert {r["param.optimizer"] for r in rows} <= set(OPTIMIZERS)
    assert {r["param.norm"] for r in rows} <= set(NORMS)
    if tuner != "carbs":  # CARBS keeps a category with probability 0.8 per draw (local search)
        assert len({r["param.optimizer"] for r in rows} | {r["param.norm"] for r in rows}) >= 3
