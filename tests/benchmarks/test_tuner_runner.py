"""Smoke run of the tuner benchmark, the tuner adapters' contract, and the metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.tuners import (
    EXTRA_TUNERS,
    TUNER_NAMES,
    Budget,
    RunSpec,
    best_so_far,
    cost_to_target,
    front_gap,
    get_problem,
    make_specs,
    make_tuner,
    run_benchmark,
    run_one,
    summarise,
)
from benchmarks.tuners.__main__ import main

CONTRACT = [
    "trial_id",
    "sweep",
    "status",
    "output",
    "cost",
    "error",
    "started_at",
    "finished_at",
    "tuner",
    "problem",
    "seed",
    "cumulative_cost",
]


def test_smoke_run_writes_csv_summary_plots_and_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench"
    rc = main(
        [
            "--problems",
            "branin-cost",
            "--tuners",
            "random,carbs",
            "--seeds",
            "2",
            "--max-trials",
            "6",
            "--out",
            str(out),
            "--workers",
            "1",
        ]
    )
    assert rc == 0
    trials = pd.read_csv(out / "trials.csv")
    assert set(CONTRACT) <= set(trials.columns)
    assert {"param.x0", "param.x1", "param.fidelity", "metric.noise_free_output"} <= set(
        trials.columns
    )
    assert len(trials) == 2 * 2 * 6
    assert set(trials["status"]) <= {"ok", "failed"} and (trials["cost"] > 0).all()
    for _, run in trials.groupby("sweep"):
        assert np.all(np.diff(run["cumulative_cost"]) > 0)
        assert run["cumulative_cost"].iloc[-1] == pytest.approx(run["cost"].sum())
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["tuner"]) == {"random", "carbs"}
    assert (out / "summary.md").read_text().count("| branin-cost |") == 2
    assert (out / "convergence_branin-cost.png").stat().st_size > 1000
    assert (out / "fronts_branin-cost.png").stat().st_size > 1000
    assert "carbs_sources_sha256" in json.loads((out / "environment.json").read_text())
    last = capsys.readouterr().out.strip().splitlines()[-1]
    figs = json.loads(last)
    assert {f["tuner"] for f in figs} == {"random", "carbs"}
    assert all(f["benchmark"] == "tuners" and f["seeds"] == 2 for f in figs)
    rnd = next(f for f in figs if f["tuner"] == "random")
    assert rnd["regret_vs_random"] == pytest.approx(1.0)
    # Re-rendering from the written trials gives the same figures.
    assert main(["--report-only", str(out), "--no-plots"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == figs


@pytest.mark.parametrize("tuner", TUNER_NAMES + EXTRA_TUNERS)
def test_tuners_respect_bounds_integers_and_start_at_center(tuner: str) -> None:
    prob = get_problem("chinchilla")
    res = run_one(RunSpec("chinchilla", tuner, 3, Budget(1e30, 5)))
    assert not res.tuner_error and len(res.rows) == 5
    for row in res.rows:
        for d in prob.dims:
            v = row[f"param.{d.name}"]
            assert d.low <= v <= d.high, (tuner, d.name, v)
            if d.integer:
                assert float(v) == int(v), (tuner, d.name, v)
    first = {d.name: res.rows[0][f"param.{d.name}"] for d in prob.dims}
    assert first == pytest.approx(prob.search_center())  # every tuner starts at the center


def test_budget_stops_after_crossing_and_seeds_share_noise() -> None:
    a = run_one(RunSpec("branin-cost", "random", 0, Budget(0.5, 100)))
    cum = [r["cumulative_cost"] for r in a.rows]
    assert cum[-1] >= 0.5 and cum[-2] < 0.5
    b = run_one(RunSpec("branin-cost", "random", 0, Budget(0.5, 100)))
    assert [r["output"] for r in a.rows] == [r["output"] for r in b.rows]


def test_parallel_workers_give_the_same_trials() -> None:
    specs = make_specs(["branin"], ["random", "tpe"], [0, 1], max_trials=3)
    serial, _ = run_benchmark(specs, workers=1, progress=False)
    parallel, _ = run_benchmark(specs, workers=2, progress=False)
    cols = ["trial_id", "output", "param.x0", "param.x1"]
    pd.testing.assert_frame_equal(serial[cols], parallel[cols])


def test_make_specs_quick_and_validation() -> None:
    specs = make_specs(["branin", "chinchilla"], ["random", "tpe"], [0, 1], quick=True)
    assert len(specs) == 8
    assert {s.budget.cost for s in specs if s.problem == "branin"} == {8.0}
    with pytest.raises(ValueError, match="RunSpec.tuner"):
        RunSpec("branin", "hebo", 0, Budget(1.0, 1))
    with pytest.raises(ValueError, match="Budget.cost"):
        Budget(0.0, 3)
    with pytest.raises(ValueError, match="unknown tuner"):
        make_tuner("nope", get_problem("branin").dims, {}, 0)
    with pytest.raises(SystemExit):
        main(["--tuners", "hebo"])


def _run(costs: list[float], values: list[float], status: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trial_index": range(len(costs)),
            "cost": costs,
            "cumulative_cost": np.cumsum(costs),
            "metric.noise_free_output": values,
            "status": status or ["ok"] * len(costs),
        }
    )


def test_best_so_far_cost_to_target_and_failures() -> None:
    run = _run([1.0, 2.0, 1.0, 4.0], [5.0, 3.0, math.nan, 1.0], ["ok", "ok", "failed", "ok"])
    got = best_so_far(run, np.array([0.5, 1.0, 2.9, 3.0, 4.0, 8.0]))
    assert list(got) == [math.inf, 5.0, 5.0, 3.0, 3.0, 1.0]
    assert cost_to_target(run, 3.0) == 3.0
    assert cost_to_target(run, 0.5) == math.inf


def test_front_gap_zero_on_reference_and_one_when_empty() -> None:
    def ref(c: np.ndarray) -> np.ndarray:
        return 10.0 - np.log10(c)

    costs = list(np.geomspace(1.0, 1e3, 400))
    perfect = _run(costs, list(ref(np.array(costs))))
    assert front_gap(perfect, 1e9, (1.0, 1e3), ref) == pytest.approx(0.0, abs=0.01)
    useless = _run([1.0, 10.0], [50.0, 60.0])
    assert front_gap(useless, 1e9, (1.0, 1e3), ref) == pytest.approx(1.0)
    # Trials beyond the budget do not count.
    assert front_gap(perfect, 1e-3, (1.0, 1e3), ref) == pytest.approx(1.0)


def test_summarise_median_iqr_and_ratio() -> None:
    per_run = pd.DataFrame(
        {
            "problem": ["p"] * 6,
            "tuner": ["random"] * 3 + ["carbs"] * 3,
            "seed": [0, 1, 2] * 2,
            "regret": [4.0, 2.0, 6.0, 1.0, 2.0, 3.0],
            "regret_at_25pct": [1.0] * 6,
            "front_gap": [math.nan] * 6,
            "cost_to_target": [1.0, math.inf, 2.0, 1.0, 1.0, 1.0],
            "n_trials": [3] * 6,
            "n_failed": [0] * 6,
            "suggest_seconds": [0.0] * 6,
        }
    )
    s = summarise(per_run).set_index("tuner")
    assert s.loc["random", "regret_median"] == 4.0 and s.loc["carbs", "regret_median"] == 2.0
    assert s.loc["carbs", "regret_vs_random"] == pytest.approx(0.5)
    assert s.loc["random", "reached_target"] == pytest.approx(2 / 3)
    assert s.loc["random", "cost_to_target_median"] == 2.0
