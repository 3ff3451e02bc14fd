"""Smoke run of the tuner benchmark, the tuner adapters' contract, learning curves, the HEBO
worker, and the metrics."""

from __future__ import annotations

import json
import math
import subprocess
import sys
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
from benchmarks.tuners.hebo_arm import WORKER, HeboUnavailable, hebo_missing
from benchmarks.tuners.metrics import compare

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
    assert rnd["vs_carbs_best"] in ("win", "tie", "loss")
    assert rnd["spread_vs_carbs_front_gap"] in ("lower", "same", "higher", "n/a")
    assert "| random | best |" in (out / "comparison.md").read_text()
    # Re-rendering from the written trials gives the same figures.
    assert main(["--report-only", str(out), "--no-plots"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == figs


# hebo runs in its own environment (`make bench-hebo-env`): test_hebo_arm_* below
@pytest.mark.parametrize("tuner", [t for t in TUNER_NAMES + EXTRA_TUNERS if t != "hebo"])
def test_tuners_respect_bounds_integers_and_start_at_center(tuner: str) -> None:
    prob = get_problem("chinchilla")
    res = run_one(RunSpec("chinchilla", tuner, 3, Budget(1e30, 5)))
    # asha: runs it stops do not count toward the cap of 5
    assert not res.tuner_error and (len(res.rows) >= 5 if tuner == "asha" else len(res.rows) == 5)
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
        RunSpec("branin", "nope", 0, Budget(1.0, 1))
    with pytest.raises(ValueError, match="Budget.cost"):
        Budget(0.0, 3)
    with pytest.raises(ValueError, match="unknown tuner"):
        make_tuner("nope", get_problem("branin").dims, {}, 0)
    with pytest.raises(SystemExit):
        main(["--tuners", "nope"])


def test_synthetic_curve_ends_at_the_evaluation_and_stays_above_the_front() -> None:
    prob = get_problem("branin-cost")
    config = {"x0": 9.0, "x1": 3.0, "fidelity": 0.5}
    curve = list(prob.learning_curve(config, np.random.default_rng([4, 2])))
    final = prob.evaluate(config, np.random.default_rng([4, 2]))
    assert curve[-1].evaluation == final  # the same draw as evaluate()
    assert [p.step for p in curve] == list(range(1, len(curve) + 1)) and len(curve) > 4
    costs = np.array([p.evaluation.cost for p in curve])
    assert np.all(np.diff(costs) > 0) and costs[-1] == pytest.approx(0.5)
    nf = np.array([p.evaluation.noise_free for p in curve])
    assert np.all(nf >= prob.reference_front(costs) - 1e-12)  # no partial run beats the front
    assert nf[0] > nf[-1]  # it learns
    # A failed run (chinchilla: lr far above the optimum diverges) fails at its full cost.
    chin = get_problem("chinchilla")
    bad = {**chin.search_center(), "lr": 1.0}
    (point,) = chin.learning_curve(bad, np.random.default_rng(0))
    assert point.evaluation.failed
    assert point.evaluation.cost == chin.evaluate(bad, np.random.default_rng(0)).cost


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("mlp-digits", {"hidden": 8, "lr": 1e-2, "alpha": 1e-4, "batch_size": 256, "epochs": 3}),
        ("cnn-digits", {"width": 4, "lr": 1e-2, "weight_decay": 1e-4, "batch_size": 256,
                        "epochs": 2}),
    ],
)
def test_real_tasks_report_one_point_per_epoch(name: str, config: dict) -> None:
    prob = get_problem(name)
    curve = list(prob.learning_curve(config, np.random.default_rng([0, 1])))
    assert [p.step for p in curve] == list(range(1, config["epochs"] + 1))
    costs = [p.evaluation.cost for p in curve]
    assert costs == pytest.approx([costs[0] * k for k in range(1, config["epochs"] + 1)])
    final = prob.evaluate(config, np.random.default_rng([0, 1]))
    assert final.output == pytest.approx(curve[-1].evaluation.output, rel=1e-6)
    assert final.cost == costs[-1] and 0 < final.output < 3


def test_asha_stops_runs_and_is_charged_what_they_spent() -> None:
    res = run_one(RunSpec("branin-cost", "asha", 0, Budget(1e9, 12)))
    assert not res.tuner_error
    rows = pd.DataFrame(res.rows)
    pruned = rows[rows["metric.pruned"] == 1.0]
    assert len(pruned) >= 12  # successive halving stops most runs at its first rungs
    # stopped runs do not count toward the trial cap of 12 (full runs)
    assert (rows["metric.pruned"] == 0.0).sum() == 12 and len(rows) == 12 + len(pruned)
    # a stopped run is charged the share of its cost it ran (fidelity = its full cost)
    assert (pruned["cost"] < pruned["param.fidelity"] - 1e-12).all()
    done = rows[rows["metric.pruned"] == 0.0]
    assert np.allclose(done["cost"], done["param.fidelity"])
    assert rows["cumulative_cost"].iloc[-1] == pytest.approx(rows["cost"].sum())


def test_missing_hebo_environment_skips_only_that_arm(tmp_path: Path, monkeypatch,
                                                     capsys) -> None:
    monkeypatch.setenv("HEBO_PYTHON", str(tmp_path / "no-such-python"))
    assert "make bench-hebo-env" in hebo_missing()
    with pytest.raises(HeboUnavailable, match="bench-hebo-env"):
        make_tuner("hebo", get_problem("branin").dims, get_problem("branin").search_center(), 0)
    out = tmp_path / "bench"
    argv = ["--problems", "branin", "--tuners", "random,hebo", "--seeds", "1", "--max-trials",
            "3", "--workers", "1", "--no-plots", "--out", str(out)]
    assert main(argv) == 0
    assert "skipping the hebo arm" in capsys.readouterr().err
    assert set(pd.read_csv(out / "trials.csv")["tuner"]) == {"random"}


def test_hebo_worker_answers_errors_on_its_protocol() -> None:
    """The worker in this environment (no HEBO here): every error is one JSON line back."""
    lines = [{"op": "suggest"}, {"op": "nope"},
             {"op": "init", "seed": 0, "params": [{"name": "x", "low": 0, "high": 1}]},
             {"op": "close"}]
    proc = subprocess.run([sys.executable, "-I", str(WORKER)], text=True, capture_output=True,
                          check=False,
                          input="".join(json.dumps(m) + "\n" for m in lines), timeout=120)
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and len(answers) == 4
    assert not answers[0]["ok"] and "before 'init'" in answers[0]["error"]
    assert not answers[1]["ok"] and "unknown op" in answers[1]["error"]
    try:
        import hebo  # noqa: F401
    except ImportError:
        assert not answers[2]["ok"] and "hebo" in answers[2]["error"].lower()
    assert answers[3] == {"ok": True}


@pytest.mark.skipif(bool(hebo_missing()), reason="HEBO's environment: make bench-hebo-env")
def test_hebo_arm_runs_in_its_own_environment() -> None:
    prob = get_problem("chinchilla")
    res = run_one(RunSpec("chinchilla", "hebo", 3, Budget(1e30, 6)))
    assert not res.tuner_error and len(res.rows) == 6
    first = {d.name: res.rows[0][f"param.{d.name}"] for d in prob.dims}
    assert first == pytest.approx(prob.search_center())
    for row in res.rows:
        for d in prob.dims:
            v = row[f"param.{d.name}"]
            assert d.low <= v <= d.high and (not d.integer or float(v) == int(v))


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


def test_compare_counts_wins_ties_losses_and_spread() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for tuner, loc, sd in (("carbs", 1.0, 0.01), ("worse", 2.0, 0.5), ("same", 1.0, 0.01)):
        for seed in range(10):
            rows.append({"problem": "p", "tuner": tuner, "seed": seed,
                         "best": loc + sd * rng.standard_normal(), "front_gap": math.nan})
    c = compare(pd.DataFrame(rows)).set_index("arm")
    assert c.loc["worse", "result"] == "win" and c.loc["worse", "spread"] == "lower"
    assert c.loc["same", "result"] == "tie" and c.loc["same", "spread"] == "same"
    assert set(c["score"]) == {"best"}  # no front gap where every seed has none
    # a seed that found nothing (inf) counts as the worst value
    rows += [{"problem": "p", "tuner": "empty", "seed": s, "best": math.inf,
              "front_gap": math.nan} for s in range(10)]
    c = compare(pd.DataFrame(rows)).set_index("arm")
    assert c.loc["empty", "result"] == "win" and c.loc["empty", "spread"] == "n/a"


def test_first_seed_parts_merge_into_one_report(tmp_path: Path, capsys) -> None:
    base = ["--problems", "branin", "--tuners", "random,carbs", "--seeds", "1", "--max-trials",
            "4", "--workers", "1", "--no-plots"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert main([*base, "--first-seed", "1", "--out", str(tmp_path / "b")]) == 0
    assert main(["--merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out",
                 str(tmp_path / "m"), "--no-plots"]) == 0
    figs = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {f["seeds"] for f in figs} == {2}
    assert set(pd.read_csv(tmp_path / "m" / "trials.csv")["seed"]) == {0, 1}
    # the same part twice is refused
    assert main(["--merge", str(tmp_path / "a"), str(tmp_path / "a"), "--out",
                 str(tmp_path / "x")]) == 2
