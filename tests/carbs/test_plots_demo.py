"""Plots are written as PNG files; the demo CLI runs end to end on a few trials."""

from pathlib import Path

import pandas as pd
import pytest

from carbs import CARBS, CARBSConfig
from carbs.demo import main as demo_main
from carbs.plots import plot_convergence, plot_params_vs_cost, plot_pareto_front

PNG = b"\x89PNG"


def test_plots_write_pngs(tmp_path, mixed_params, mixed_obj):
    opt = CARBS(CARBSConfig(better_direction_sign=-1, num_candidates_for_suggestion_per_dim=20,
                            fit_max_iter=20), mixed_params)
    for i in range(7):
        s = opt.suggest()
        y, c = mixed_obj(s.config)
        opt.observe(s, float("nan") if i == 2 else y, c)
    for fn in (plot_pareto_front, plot_params_vs_cost, plot_convergence):
        path = fn(opt, tmp_path / f"{fn.__name__}.png")
        assert Path(path).read_bytes()[:4] == PNG


def test_plots_handle_empty_optimiser(tmp_path, params_4d):
    opt = CARBS(CARBSConfig(better_direction_sign=-1), params_4d)
    assert Path(plot_pareto_front(opt, tmp_path / "p.png")).read_bytes()[:4] == PNG
    assert Path(plot_convergence(opt, tmp_path / "c.png")).read_bytes()[:4] == PNG


def test_demo_cli_writes_outputs(tmp_path, capsys):
    demo_main(["--out", str(tmp_path), "--trials", "7", "--batch", "2"])
    names = {p.name for p in tmp_path.iterdir()}
    assert {"pareto.png", "params_vs_cost.png", "convergence.png", "trials.csv",
            "state.json"} <= names
    df = pd.read_csv(tmp_path / "trials.csv")
    assert len(df) == 7 and set(df.status) == {"ok"}
    assert "Pareto front" in capsys.readouterr().out
    loaded = CARBS.load(tmp_path / "state.json")
    assert len(loaded.observations) == 7


def test_demo_cli_help(capsys):
    with pytest.raises(SystemExit) as e:
        demo_main(["--help"])
    assert e.value.code == 0
    assert "--trials" in capsys.readouterr().out


def test_observed_front_keeps_the_cheap_end_the_search_front_collapses(tmp_path):
    """The plotted front is the observed cost/output front: the cheapest runs are on it even
    where CARBS's search front collapses them (min_pareto_cost_fraction)."""
    from carbs import LinearSpace, Param

    opt = CARBS(CARBSConfig(better_direction_sign=-1, min_pareto_cost_fraction=0.5),
                [Param("x", LinearSpace(min=0.0, max=10.0), 5.0)])
    for x, loss, cost in ((0.0, 5.0, 1.0), (1.0, 4.0, 2.0), (2.0, 3.0, 4.0), (3.0, 2.0, 8.0),
                          (4.0, 2.5, 16.0), (5.0, 1.0, 32.0)):
        opt.observe({"x": x}, loss, cost)
    search = [g.cost for g in opt.pareto_front()]
    observed = [g.cost for g in opt.pareto_front(observed=True)]
    assert observed == [1.0, 2.0, 4.0, 8.0, 32.0]  # 16 is dominated by 8
    assert search == [4.0, 8.0, 32.0]  # costs 1, 2, 4 collapse into their best group
    path = plot_pareto_front(opt, tmp_path / "front.png")
    assert Path(path).read_bytes()[:4] == PNG
