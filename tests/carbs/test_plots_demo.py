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
