"""The Hydra sweeper end to end, on a toy Hydra app (tests/carbs/sweep/sweep_app): real Hydra, real
launchers (basic, joblib with 2 workers, submitit_local), a real SQLite journal, real kills.

Most sweeps run in this process (:func:`sweep`) exactly as the app's command line would run them,
Hydra's error report included; the launchers' workers are real processes that import the app by
its module name. The kill test starts the command line itself."""

import contextlib
import io
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra._internal.hydra import Hydra
from hydra._internal.utils import run_and_report
from hydra.core.global_hydra import GlobalHydra

import scaling
from carbs.sweep.journal import JOURNAL_FILE, load_trials

APP = Path(__file__).parent / "sweep_app" / "toy_sweep_app.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0"}
# importable by name here and in the launchers' workers (joblib's inherit sys.path; submitit's
# jobs get PYTHONPATH), so a pickled task function finds its module there
sys.path.insert(0, str(APP.parent))
import toy_sweep_app


@dataclass
class Finished:
    """What a sweep left: its exit code and what it wrote to stderr."""

    returncode: int
    stderr: str


def sweep(tmp_path, *overrides, sweep_dir=None, check=True):
    """Run the toy app's CARBS sweep in this process, as ``python toy_sweep_app.py --multirun
    +sweep=toy hydra.sweep.dir=<dir> *overrides`` would (Hydra's own error report on stderr,
    exit code 1), saving a process start and its imports; returns (:class:`Finished`, dir)."""
    sweep_dir = Path(sweep_dir or tmp_path / "sweep")
    root, cwd, err, code = logging.getLogger(), Path.cwd(), io.StringIO(), 0
    handlers, level = root.handlers[:], root.level
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stderr(err):
            hydra = Hydra.create_main_hydra_file_or_module(
                calling_file=str(APP), calling_module=None, config_path="conf",
                job_name="toy_sweep_app")
            args = ["+sweep=toy", f"hydra.sweep.dir={sweep_dir}", *overrides]
            run_and_report(lambda: hydra.multirun(config_name="config", overrides=args,
                                                  task_function=toy_sweep_app.task,
                                                  with_log_configuration=True))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        GlobalHydra.instance().clear()
        os.chdir(cwd)
        for handler in set(root.handlers) - set(handlers):  # Hydra's logging set-up
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
    done = Finished(code, err.getvalue())
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done, sweep_dir


def test_sweep_writes_a_complete_journal_then_resumes_only_with_the_same_space(tmp_path):
    # the search starts at x=0.5, on the edge of the region x > 0.5 that crashes (the optimum is
    # x=0.3): about half the start-up samples fail
    proc, d = sweep(tmp_path, "hydra.sweeper.max_trials=12", "fail_above=0.5",
                    "hydra.sweeper.search_space.x.center=0.5")
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
    # observations (no start-up sampling), the new journal holds only the new trials
    proc, d2 = sweep(tmp_path, "hydra.sweeper.max_trials=2", "fail_above=0.5",
                     "hydra.sweeper.search_space.x.max=3", f"+hydra.sweeper.warm_start.from={d}",
                     sweep_dir=tmp_path / "next")
    new = load_trials(d2)
    assert len(new) == 2 and not set(new["trial_id"]) & set(again["trial_id"])
    assert "random" not in set(new["suggestion"].map(lambda s: json.loads(s)["kind"]))
    state = json.loads((d2 / "carbs_state.json").read_text())
    assert len(state["observations"]) == 16


def test_joblib_launcher_runs_each_batch_on_two_workers_and_survives_a_killed_one(tmp_path):
    _, d = sweep(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                    "hydra.sweeper.n_jobs=2", "hydra.sweeper.max_trials=6", "sleep=0.3",
                    "kill_job=2")
    df = load_trials(d)
    assert len(df) == 6 and (df["status"] == "ok").all()
    # job 2 killed its worker, which took its batch-mate (job 3) down: both were relaunched
    # once (jobs 4 and 5); the trial that killed job 2 did not kill again under a new job number
    assert sorted(df["attempt"]) == [1, 1, 1, 1, 2, 2]
    assert set(df["job_num"]) == {0, 1, 4, 5, 6, 7}
    first = df.set_index("job_num").loc[[0, 1]]
    assert first["metric.pid"].nunique() == 2  # two worker processes


def test_submitit_local_launcher(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(APP.parent), *filter(None, [
        os.environ.get("PYTHONPATH")])]))  # the jobs unpickle the task function by module name
    _, d = sweep(tmp_path, "hydra/launcher=submitit_local", "hydra.sweeper.n_jobs=2",
                    "hydra.sweeper.max_trials=2", "hydra.launcher.timeout_min=5")
    df = load_trials(d)
    assert len(df) == 2 and (df["status"] == "ok").all()
    assert (d / ".submitit").is_dir()
    assert df["metric.pid"].nunique() == 2


def _finished_and_recorded(d):
    """Trial ids finished in the journal, and job records written by workers."""
    try:
        con = sqlite3.connect(f"file:{d / JOURNAL_FILE}?mode=ro", uri=True)
        rows = con.execute("SELECT trial_id, status, job_num FROM trials").fetchall()
        con.close()
    except sqlite3.Error:
        return set(), {}
    results = d / ".carbs" / "results"
    records = {int(p.stem.split("-")[1]) for p in results.glob("job-*.json")} if results.exists() else set()
    finished = {r[0] for r in rows if r[1] != "running"}
    running = {r[2]: r[0] for r in rows if r[1] == "running" and r[2] is not None}
    return finished, {running[j]: j for j in records if j in running}


def test_sigkill_mid_batch_then_resume_keeps_every_finished_trial(tmp_path):
    """Kill the sweep (and its workers) while one trial of a batch has finished and the other
    still runs; the resumed sweep keeps both the journaled and the mid-batch trial, reruns only
    the interrupted one, and stops at the same budget. (The resume runs in this process on the
    basic launcher, without the sleeps: how the sweep is launched is not part of its journal.)"""
    d = tmp_path / "sweep"
    args = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.max_trials=6", "sleep=1.5"]
    cmd = [sys.executable, str(APP), "--multirun", "+sweep=toy", f"hydra.sweep.dir={d}", *args]
    p = subprocess.Popen(cmd, cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 200
        while time.time() < deadline:
            finished, mid_batch = _finished_and_recorded(d)
            if len(finished) >= 2 and mid_batch:
                break
            if p.poll() is not None:
                pytest.fail("the sweep ended before it could be killed mid-batch")
            time.sleep(0.05)
        else:
            pytest.fail("no mid-batch moment seen")
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    before = load_trials(d)
    done_before = set(before.loc[before["status"] != "running", "trial_id"]) | set(mid_batch)
    outputs_before = json.loads(before.set_index("trial_id")["output"].to_json())
    interrupted = set(before.loc[before["status"] == "running", "trial_id"]) - set(mid_batch)

    sweep(tmp_path, "hydra.sweeper.n_jobs=2", "hydra.sweeper.max_trials=6", sweep_dir=d)
    after = load_trials(d).set_index("trial_id")
    assert len(after) == 6 and (after["status"] != "running").all()  # the budget holds
    assert done_before <= set(after.index)  # every trial finished before the kill is kept
    assert (after.loc[sorted(done_before), "attempt"] == 1).all()  # ... and none ran twice
    for tid in done_before - set(mid_batch):
        assert after.loc[tid, "output"] == pytest.approx(outputs_before[tid])
    assert (after.loc[sorted(interrupted), "attempt"] == 2).all()  # relaunched once
    records = {int(p.stem.split("-")[1]) for p in (d / ".carbs" / "results").glob("job-*.json")}
    assert records == set(after["job_num"])  # one finished run per trial: nothing ran twice
    print(f"kill/resume: {len(done_before)} trial(s) finished before the kill "
          f"({len(mid_batch)} mid-batch), {len(interrupted)} interrupted and relaunched; "
          f"{len(done_before)} kept after resume")


def test_consecutive_failures_stop_the_sweep_naming_the_last_error(tmp_path):
    proc, d = sweep(tmp_path, "hydra.sweeper.max_trials=10",
                    "hydra.sweeper.max_consecutive_failures=3", "mode=exit", check=False)
    assert proc.returncode != 0
    assert "3 trials in a row failed" in proc.stderr and "sys.exit(3)" in proc.stderr
    df = load_trials(d)
    assert len(df) == 3 and (df["status"] == "failed").all()


def test_a_result_without_the_objective_stops_at_once(tmp_path):
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
def test_bad_input_is_refused_before_any_trial(tmp_path, overrides, message):
    proc, d = sweep(tmp_path, *overrides, check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr[-2000:]
    assert not (d / JOURNAL_FILE).exists()
