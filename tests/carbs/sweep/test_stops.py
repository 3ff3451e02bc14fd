"""Stops, kills and owners, with real processes: the toy app's sweep runs as a command line
(joblib workers) and is stopped with SIGTERM, killed with SIGKILL (its process group, or its
main process alone while its workers go on), or met by a second sweep in its directory."""

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from carbs.sweep.journal import load_trials
from carbs.sweep.lock import SweepLock, SweepLockedError


def _state(d, rows):
    """(finished trial ids, {trial_id: job} of running trials whose worker started and has not
    finished)."""
    finished, running = set(), {}
    for r in rows(d):
        if r["status"] != "running":
            finished.add(r["trial_id"])
        elif r["job_num"] is not None:
            started = d / ".carbs" / "workers" / f"job-{r['job_num']}.json"
            done = d / ".carbs" / "results" / f"job-{r['job_num']}.json"
            if started.exists() and not done.exists():
                running[r["trial_id"]] = r["job_num"]
    return finished, running


def _start(cmd, cwd, env):
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _wait_for(p, d, rows, in_flight, finished, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        done, running = _state(d, rows)
        if len(running) >= in_flight and len(done) >= finished:
            return done, running
        if p.poll() is not None:
            pytest.fail(f"the sweep ended first:\n{p.stdout.read()[-3000:]}")
        time.sleep(0.05)
    pytest.fail("the moment to stop the sweep never came")


def _records(d):
    return {int(p.stem.split("-")[1]): json.loads(p.read_text())
            for p in (d / ".carbs" / "results").glob("job-*.json")}


def _workers(d):
    """The worker processes that ran trials of the sweep in ``d``, from their start records."""
    procs = []
    for p in (d / ".carbs" / "workers").glob("job-*.json"):
        with_pid = json.loads(p.read_text())
        try:
            proc = psutil.Process(with_pid["pid"])
            if abs(proc.create_time() - with_pid["pid_started"]) < 1:
                procs.append(proc)
        except psutil.Error:
            pass
    return procs


def _end(procs):
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass


def _clean_shm(pid):
    """Remove what joblib and loky left in /dev/shm for a process killed with its resource
    tracker (empty folders and semaphores: nothing is left to clean them)."""
    for path in [*Path("/dev/shm").glob(f"joblib_memmapping_folder_{pid}_*"),
                 *Path("/dev/shm").glob(f"sem.loky-{pid}-*")]:
        with contextlib.suppress(OSError):
            path.rmdir() if path.is_dir() else path.unlink()


@pytest.fixture
def fast_resume(monkeypatch):
    """Trials resumed in this process skip the app's sleeps (see the toy app)."""
    monkeypatch.setenv("TOY_SLEEP_SCALE", "0")


def test_sigterm_stops_launching_ends_every_worker_and_resumes_the_stopped_trials(
        tmp_path, sweep, rows, app_command, app_env, fast_resume):
    d = tmp_path / "sweep"
    # 3 in flight at the SIGTERM, a 4th not launched yet
    args = ["hydra/launcher=joblib", "hydra.sweeper.n_jobs=3", "hydra.sweeper.max_trials=4",
            "sleep=1"]
    p = _start(app_command(d, *args), tmp_path, app_env)
    try:
        _wait_for(p, d, rows, in_flight=3, finished=0)
        # a second sweep in the live sweep's directory is refused, naming the owner
        before = rows(d)
        second, _ = sweep(tmp_path, *args[1:], sweep_dir=d, check=False)
        assert second.returncode != 0
        assert f"is in use by another sweep (pid {p.pid} on " in second.stderr
        assert rows(d) == before  # nothing of the live sweep touched
        children = psutil.Process(p.pid).children(recursive=True)
        os.kill(p.pid, signal.SIGTERM)
        out, _ = p.communicate(timeout=60)
    finally:
        _end(psutil.Process(p.pid).children(recursive=True) if p.poll() is None else [])
        if p.poll() is None:
            p.kill()
    assert p.returncode != 0
    lines = [ln for ln in out.splitlines() if "stopped by SIGTERM" in ln]
    assert len(lines) == 1 and "stopped in flight" in lines[0], out[-3000:]
    time.sleep(0.5)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [c.cmdline() for c in alive]  # no worker outlives the sweep
    stopped = [r for r in rows(d) if r["status"] == "running"]
    assert stopped and all(r["error"].startswith("stopped: the sweep received SIGTERM")
                           for r in stopped)
    # a resume relaunches the stopped trials (here in this process, serially)
    sweep(tmp_path, "hydra.sweeper.max_trials=4", "sleep=1", sweep_dir=d)
    df = load_trials(d).set_index("trial_id")
    assert len(df) == 4 and (df["status"] == "ok").all()
    assert (df.loc[[r["trial_id"] for r in stopped], "attempt"] == 2).all()


def test_kill9_of_the_process_group_with_8_in_flight_then_resume(tmp_path, sweep, rows,
                                                                  app_command, app_env,
                                                                  fast_resume):
    d = tmp_path / "sweep"
    # jobs 0 and 1 end at once, so that two trials are finished and 8 in flight at the kill
    args = ["hydra/launcher=joblib", "hydra.sweeper.n_jobs=8", "hydra.sweeper.max_trials=10",
            "sleep=3", "quick_jobs=2"]
    p = _start(app_command(d, *args), tmp_path, app_env)
    try:
        _wait_for(p, d, rows, in_flight=8, finished=2)
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        _clean_shm(p.pid)
    # the console carried the sweep (one line per finished trial), not the trials' output,
    # which went to each job's log
    console = p.stdout.read()
    assert "toy trial" not in console and "Launching" not in console
    for job in (0, 1):
        assert re.search(rf"trial \w+ ok \(job {job}, [\d.]+ s on .+:\d+\)", console), console
        log = (d / str(job) / "toy_sweep_app.log").read_text()
        assert "toy trial x=" in log and "toy trial log line" in log
    before = {r["trial_id"]: r for r in rows(d)}
    finished = {t for t, r in before.items() if r["status"] != "running"}
    records = _records(d)
    finished_unrecorded = {t for t, r in before.items()
                           if r["status"] == "running" and r["job_num"] in records}
    interrupted = {t for t, r in before.items() if r["status"] == "running"} - finished_unrecorded
    assert len(interrupted) >= 6

    sweep(tmp_path, *args[1:], sweep_dir=d)  # resumed in this process (basic launcher)
    after = load_trials(d).set_index("trial_id")
    assert len(after) == 10 and (after["status"] == "ok").all()
    for t in finished:  # every finished trial kept as it was
        assert after.loc[t, "output"] == pytest.approx(before[t]["output"])
    assert (after.loc[sorted(finished | finished_unrecorded), "attempt"] == 1).all()
    assert (after.loc[sorted(interrupted), "attempt"] == 2).all()  # relaunched once
    assert set(_records(d)) == set(after["job_num"])  # one finished run per trial


def test_kill9_of_the_sweep_alone_waits_for_its_live_workers_and_never_runs_a_trial_twice(
        tmp_path, sweep, rows, app_command, app_env, fast_resume):
    """As on SLURM or Ray, the workers outlive the sweep process: the resume waits for the
    trials they still run and ingests what they wrote while the sweep was down."""
    d = tmp_path / "sweep"
    args = ["hydra/launcher=joblib", "hydra.sweeper.n_jobs=2", "hydra.sweeper.max_trials=3",
            "sleep=1.5"]
    p = _start(app_command(d, *args), tmp_path, app_env)
    try:
        _, running = _wait_for(p, d, rows, in_flight=2, finished=0)
    finally:
        os.kill(p.pid, signal.SIGKILL)  # the main process only
        p.wait()
    workers = _workers(d)
    try:
        assert len(workers) == 2
        sweep(tmp_path, *args[1:], sweep_dir=d)
        after = load_trials(d).set_index("trial_id")
        assert len(after) == 3 and (after["status"] == "ok").all()
        # the 2 trials in flight at the kill finished on their first workers, once each
        assert (after.loc[sorted(running), "attempt"] == 1).all()
        assert set(after.loc[sorted(running), "metric.pid"]) == {w.pid for w in workers}
        assert set(_records(d)) == set(after["job_num"])
        time.sleep(0.5)
        assert not [w for w in workers if w.is_running()
                    and w.status() != psutil.STATUS_ZOMBIE]  # orphans ended once done
    finally:
        _end(workers)


def test_the_stale_lock_of_a_dead_process_is_taken_over(tmp_path, caplog):
    dead = subprocess.Popen(["sleep", "0"])
    dead.wait()
    lock = tmp_path / ".carbs" / "lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"host": os.uname().nodename, "pid": dead.pid,
                                "started_at": "2026-01-01T00:00:00+00:00",
                                "heartbeat": time.time()}))
    with caplog.at_level("WARNING", logger="carbs.sweep"), SweepLock(tmp_path):
        assert "taking over the stale lock" in caplog.text and str(dead.pid) in caplog.text
        with pytest.raises(SweepLockedError, match=rf"pid {os.getpid()} on "):
            SweepLock(tmp_path).acquire()  # held: a second owner is refused
    with SweepLock(tmp_path):  # released at the end: free again
        assert Path(lock).exists()
