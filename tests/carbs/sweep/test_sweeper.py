"""The Hydra sweeper end to end, on a toy Hydra app (tests/carbs/sweep/sweep_app): real Hydra, real
launchers (basic, joblib, submitit_local), a real SQLite journal. Sweeps run in this process
(the ``sweep`` fixture) exactly as the app's command line would run them; the launchers'
workers are real processes. Stops, kills and locks: test_stops.py; Ray: test_ray.py."""

import json
import logging
import re

import pytest

import scaling
from carbs.sweep.journal import JOURNAL_FILE, load_trials


def test_sweep_writes_a_complete_journal_then_resumes_only_with_the_same_space(sweep, tmp_path):
    # the search starts at x=0.5, on the edge of the region x > 0.5 that crashes (the optimum is
    # x=0.3): about half the start-up samples fail
    proc, d = sweep(tmp_path, "hydra.sweeper.max_trials=12", "fail_above=0.5",
                    "hydra.sweeper.search_space.x.center=0.5", "hydra.sweeper.plot_interval_s=30")
    df = load_trials(d)
    assert len(df) == 12 and set(df["status"]) <= {"ok", "failed"}
    assert df["trial_id"].is_unique and (df["attempt"] == 1).all()
    ok = df[df["status"] == "ok"]
    assert (ok["cost"] > 0).all() and ok["output"].notna().all()
    assert {"param.x", "param.size", "param.act", "metric.size", "metric.job_seconds",
            "started_at", "finished_at", "suggestion"} <= set(df.columns)
    failed = df[df["status"] == "failed"]
    assert (failed["error"].str.contains("crashes")).all() and (failed["param.x"] > 0.5).all()
    for name in ("pareto.png", "params_vs_cost.png", "convergence.png", "carbs_state.json"):
        assert (d / name).stat().st_size > 0
    assert len(scaling.load_table(d)) == 12  # the scaling package reads the sweep directory
    # the failing region is recorded and then avoided: once the model-based phase starts, the
    # success model steers suggestions out of it
    kinds = df["suggestion"].map(lambda s: json.loads(s)["kind"])
    assert (df.loc[kinds == "random", "status"] == "failed").any()
    model_based = df[kinds != "random"]
    assert len(model_based) >= 1 and (model_based["status"] == "ok").mean() >= 0.5

    # a different search space on the same directory is refused; the journal is untouched
    before = (d / JOURNAL_FILE).read_bytes()
    proc, _ = sweep(tmp_path, "hydra.sweeper.max_trials=14", "hydra.sweeper.search_space.x.max=3",
                    "hydra.sweeper.search_space.x.center=0.5", sweep_dir=d, check=False)
    assert proc.returncode != 0
    assert "hydra.sweeper.search_space.x: differs from the journal" in proc.stderr
    assert (d / JOURNAL_FILE).read_bytes() == before

    # the same space resumes: finished trials kept, the budget counts both runs
    sweep(tmp_path, "hydra.sweeper.max_trials=14", "fail_above=0.5",
          "hydra.sweeper.search_space.x.center=0.5", sweep_dir=d)
    again = load_trials(d)
    assert len(again) == 14 and again["trial_id"].tolist()[:12] == df["trial_id"].tolist()
    assert again["output"].iloc[:12].equals(df["output"])

    # a new sweep over a wider space warm-starts from this one: CARBS starts with its 14
    # observations (no start-up sampling), the new journal holds only the new trials; CARBS
    # is told max_cost as its total budget, plus what the warm-started observations cost
    proc, d2 = sweep(tmp_path, "hydra.sweeper.max_trials=2", "fail_above=0.5",
                     "hydra.sweeper.search_space.x.max=3", f"+hydra.sweeper.warm_start.from={d}",
                     "hydra.sweeper.max_cost=1e6", sweep_dir=tmp_path / "next")
    new = load_trials(d2)
    assert len(new) == 2 and not set(new["trial_id"]) & set(again["trial_id"])
    assert not list(d2.glob("*.png"))  # plot_interval_s: null (the toy sweep's) draws none
    assert "random" not in set(new["suggestion"].map(lambda s: json.loads(s)["kind"]))
    state = json.loads((d2 / "carbs_state.json").read_text())
    assert len(state["observations"]) == 16
    old_cost = sum(o["cost"] for o in state["observations"][:14])
    assert state["config"]["total_budget"] == pytest.approx(1e6 + old_cost)
    assert state["config"]["total_trials"] == 2 + 14  # max_trials, plus the warm start's


def test_joblib_launcher_runs_trials_async_and_survives_a_killed_worker(sweep, tmp_path):
    _, d = sweep(tmp_path, "hydra/launcher=joblib", "hydra.sweeper.n_jobs=2",
                 "hydra.sweeper.max_trials=6", "sleep=0.3", "kill_job=2")
    df = load_trials(d)
    assert len(df) == 6 and (df["status"] == "ok").all()
    # job 2 killed its worker, which took the trial in flight beside it down on joblib: each
    # trial lost was relaunched once under a new job number; none killed again
    assert 2 not in set(df["job_num"]) and set(df["attempt"]) <= {1, 2}
    assert 1 <= (df["attempt"] == 2).sum() <= 2
    assert df["metric.pid"].nunique() >= 2  # two worker processes
    assert df["worker"].str.fullmatch(r".+:\d+").all() and df["node"].notna().all()


def test_submitit_local_launcher(sweep, tmp_path, monkeypatch, app_env):
    monkeypatch.setenv("PYTHONPATH", app_env["PYTHONPATH"])  # the jobs import the app by name
    _, d = sweep(tmp_path, "hydra/launcher=submitit_local", "hydra.sweeper.n_jobs=2",
                 "hydra.sweeper.max_trials=3", "hydra.launcher.timeout_min=5")
    df = load_trials(d)
    assert len(df) == 3 and (df["status"] == "ok").all()
    assert (d / ".submitit").is_dir()
    assert df["metric.pid"].nunique() == 3  # one process per trial


def test_batch_schedule_waits_for_each_batch(sweep, tmp_path):
    _, d = sweep(tmp_path, "hydra.sweeper.schedule=batch", "hydra.sweeper.n_jobs=2",
                 "hydra.sweeper.max_trials=3")
    df = load_trials(d)
    assert len(df) == 3 and (df["status"] == "ok").all() and set(df["job_num"]) == {0, 1, 2}


def test_a_hung_trial_times_out_and_frees_its_worker(sweep, tmp_path):
    _, d = sweep(tmp_path, "hydra/launcher=joblib", "hydra.sweeper.n_jobs=2",
                 "hydra.sweeper.max_trials=4", "hydra.sweeper.trial_timeout_s=2", "hang_job=1")
    df = load_trials(d).set_index("job_num")
    assert len(df) == 4
    assert df.loc[1, "status"] == "failed"
    assert "ran longer than trial_timeout_s=2 s" in df.loc[1, "error"]
    assert (df.drop(index=1)["status"] == "ok").all()  # (the hung task would sleep an hour)


def test_budget_with_trials_in_flight(sweep, tmp_path):
    """max_cost: no trial starts once the cost spent plus the predicted cost of the trials in
    flight reaches it; the overshoot comes from trials in flight only and is reported."""
    proc, d = sweep(tmp_path, "hydra/launcher=joblib", "hydra.sweeper.n_jobs=2",
                    "hydra.sweeper.max_trials=null", "hydra.sweeper.max_cost=40",
                    "hydra.sweeper.max_trial_cost_fraction=0.5", "sleep=0.05")
    df = load_trials(d)
    total = df["cost"].sum()
    assert total >= 40 - df["cost"].max()
    # at the last launch less than 40 was spent, and at most 2 trials were unfinished then
    assert total - df["cost"].nlargest(2).sum() < 40
    if total > 40:
        assert re.search(r"cost [\d.]+ of max_cost 40 \(overshoot", proc.stdout + proc.stderr)
    for s in df["suggestion"].map(json.loads):
        if s.get("cost"):  # a model-based suggestion: capped at half of what was left
            assert s["cost"] <= 0.5 * 40 * 1.5


@pytest.mark.parametrize("mode", ["file", "console"])
def test_a_trials_output_goes_to_its_job_log_or_with_console_to_the_sweeps(sweep, tmp_path, mode):
    # the sweep's own lines do not depend on what ran earlier in the process: here, a CLI that
    # quietened the `carbs` package (as the tuner benchmark's main() does) ran before
    package, own = logging.getLogger("carbs"), logging.getLogger("carbs.sweep")
    saved = package.level
    package.setLevel(logging.WARNING)
    try:
        proc, d = sweep(tmp_path, "hydra.sweeper.max_trials=1",
                        f"hydra.sweeper.trial_output={mode}")
        # the sweep leaves the process's logging as it found it
        assert package.level == logging.WARNING and own.level == logging.NOTSET
    finally:
        package.setLevel(saved)
    log = (d / "0" / "toy_sweep_app.log").read_text()
    assert "toy trial log line" in log  # Hydra's job log, either way
    if mode == "file":
        assert "toy trial x=" in log and "toy trial" not in proc.stdout + proc.stderr
    else:
        assert "toy trial x=" in proc.stdout and "toy trial x=" not in log
    assert re.search(r"trial \w+ ok \(job 0, [\d.]+ s on .+:\d+\)", proc.stdout)
    assert re.search(r"sweep \w+ done: 1 trials", proc.stdout)


def test_consecutive_failures_stop_the_sweep_naming_the_last_error(sweep, tmp_path):
    proc, d = sweep(tmp_path, "hydra.sweeper.max_trials=10",
                    "hydra.sweeper.max_consecutive_failures=3", "mode=exit", check=False)
    assert proc.returncode != 0
    assert "3 trials in a row failed" in proc.stderr and "sys.exit(3)" in proc.stderr
    df = load_trials(d)
    assert len(df) == 3 and (df["status"] == "failed").all()


def test_a_result_without_the_objective_stops_at_once(sweep, tmp_path):
    proc, d = sweep(tmp_path, "hydra.sweeper.max_trials=10", "mode=no_objective", check=False)
    assert proc.returncode != 0 and "no objective key 'output'" in proc.stderr
    assert len(load_trials(d)) == 1


@pytest.mark.parametrize("overrides, message", [
    (["+hydra.sweeper.search_space.depth={space:linear,center:2,min:1,max:8}"],
     "hydra.sweeper.search_space.depth: 'depth' is not a key of the composed config"),
    (["hydra.sweeper.objective=accuracy"],
     "hydra.sweeper.objective='accuracy': the task never returns this key"),
    (["hydra.sweeper.max_trials=0"], "hydra.sweeper.max_trials must be an integer >= 1"),
    (["x=0.1,0.2"], "x=0.1,0.2: the CARBS sweeper does not take sweep overrides"),
])
def test_bad_input_is_refused_before_any_trial(sweep, tmp_path, overrides, message):
    proc, d = sweep(tmp_path, *overrides, check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr[-2000:]
    assert not (d / JOURNAL_FILE).exists()
