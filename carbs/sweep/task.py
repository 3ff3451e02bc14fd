"""The task side of a CARBS sweep: a wrapper around the Hydra task function that leaves a
durable record of every trial, whatever launcher runs it (:mod:`carbs.sweep.records`).

When the trial starts, the worker writes where it runs and keeps a heartbeat while the trial
runs; when the task returns or raises, it writes the outcome, atomically. The sweeper reads
these records (the ground truth for a trial's outcome) and writes the journal; a resumed sweep
ingests the records of trials that finished after the sweeper died, and waits for trials whose
worker is still alive, instead of running them again.

Two more jobs of the wrapper:

- ``trial_output: file`` (the default): for the trial's duration, its output (logging, prints,
  warnings, progress bars) goes to its job folder's log file, not to the console the sweep
  shares with every other trial (one process per trial: joblib, submitit, Ray workers, and the
  basic launcher, which runs one trial at a time);
- ``trial_timeout_s``: a trial still running then is interrupted (``TrialTimeoutError``,
  raised in the worker's main thread by ``SIGALRM``) and recorded as failed, so its worker is
  free for the next trial.

The wrapper is pickled to the launcher's workers, so it holds only the task function, a folder
and a few settings.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from carbs.sweep.records import Heartbeat, TrialRef, plain, this_worker, write_result, write_start
from tays import utc_now

__all__ = ["TrialTask", "TrialTimeoutError"]


class TrialTimeoutError(Exception):
    """A trial ran longer than ``hydra.sweeper.trial_timeout_s``."""


class TrialTask:
    """Calls ``task_function(cfg)`` and records its outcome for the sweeper.

    Args:
        task_function: the Hydra app's task function.
        sweep_dir: the sweep directory (absolute, on storage the sweeper can read).
        trials: job number -> the trial run it is (:meth:`for_trials` sets it per launch).
        timeout_s: interrupt a trial still running after this many seconds.
        output: ``file`` (the trial's output goes to its job folder's log) or ``console``.
    """

    def __init__(self, task_function: Callable[[Any], Any], sweep_dir: str,
                 trials: Mapping[int, TrialRef] | None = None, timeout_s: float | None = None,
                 output: str = "file"):
        self.task_function = task_function
        self.sweep_dir = str(sweep_dir)
        self.trials = dict(trials or {})
        self.timeout_s = timeout_s
        self.output = output
        self.result_keys = getattr(task_function, "result_keys", None)

    def for_trials(self, refs: Mapping[int, TrialRef]) -> TrialTask:
        """A copy for one launch (job number -> trial run)."""
        task = copy.copy(self)
        task.trials = dict(refs)
        return task

    def __call__(self, cfg: Any) -> Any:
        from hydra.core.hydra_config import HydraConfig

        hc = HydraConfig.get()
        job_num = int(hc.job.num)
        ref = self.trials.get(job_num)
        if ref is None:  # not launched by this sweep's bookkeeping: run it, record nothing
            return self.task_function(cfg)
        job_dir = str(hc.runtime.output_dir)
        worker = this_worker()
        record: dict[str, Any] = {"job_dir": job_dir, "started_at": utc_now(), **worker}
        t0 = time.perf_counter()
        start = write_start(self.sweep_dir, ref, worker)
        try:
            with Heartbeat(start), _trial_output(self.output, job_dir, str(hc.job.name)), \
                    _deadline(self.timeout_s):
                value = self.task_function(cfg)
        except BaseException as e:  # recorded, then re-raised for Hydra
            if isinstance(e, KeyboardInterrupt) or _signal_exit(e):
                # interrupted (Ctrl-C, SIGTERM from a scheduler or the sweep), not finished: no
                # record, so a resumed sweep relaunches the trial instead of counting it failed
                raise
            error = (f"SystemExit: the task called sys.exit({e.code})" if isinstance(e, SystemExit)
                     else f"{type(e).__name__}: {e}".strip())
            record.update(kind="raised", error=error, traceback=traceback.format_exc(limit=-6),
                          seconds=time.perf_counter() - t0, finished_at=utc_now(),
                          ended=time.time())
            write_result(self.sweep_dir, ref, record)
            if isinstance(e, SystemExit):  # a task calling sys.exit must not end the sweep
                raise RuntimeError(f"the task called sys.exit({e.code})") from None  # noqa: TRY004
            raise
        record.update(kind="returned", result=plain(value), seconds=time.perf_counter() - t0,
                      finished_at=utc_now(), ended=time.time())
        write_result(self.sweep_dir, ref, record)
        return value


def _signal_exit(e: BaseException) -> bool:
    """A ``SystemExit(128 + signal)``: how Composer and ``recipes.common.run_trial`` end a
    process that received SIGTERM / SIGINT."""
    return isinstance(e, SystemExit) and isinstance(e.code, int) and 128 < e.code < 160


@contextlib.contextmanager
def _deadline(timeout_s: float | None) -> Iterator[None]:
    """Raise :class:`TrialTimeoutError` in this (main) thread after ``timeout_s`` seconds. Off
    the main thread, where signals cannot reach, the sweeper's own deadline applies."""
    if not timeout_s or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(signum: int, frame: Any) -> None:
        raise TrialTimeoutError(f"the trial ran longer than trial_timeout_s={timeout_s:g} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, float(timeout_s))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _trial_output(mode: str, job_dir: str, job_name: str) -> Iterator[None]:
    """With ``mode == "file"``, send this process's output to the job's log for the block: the
    root logger's console handlers are detached (its file handler, Hydra's ``<job>.log``, stays)
    and file descriptors 1 and 2 point at that same file, so prints, warnings and progress bars
    of the trial land there too."""
    if mode != "file":
        yield
        return
    root = logging.getLogger()
    consoles = [h for h in root.handlers if type(h) is logging.StreamHandler
                and getattr(h, "stream", None) in (sys.stdout, sys.stderr, sys.__stdout__,
                                                   sys.__stderr__)]
    files = [h for h in root.handlers if isinstance(h, logging.FileHandler)]
    target = Path(files[0].baseFilename if files else Path(job_dir) / f"{job_name}.log")
    target.parent.mkdir(parents=True, exist_ok=True)
    for h in consoles:
        root.removeHandler(h)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    streams = sys.stdout, sys.stderr
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    log = open(target, "a", buffering=1)  # noqa: SIM115  (closed below)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        sys.stdout = sys.stderr = log  # also where a host replaced the streams (a notebook)
        yield
    finally:
        sys.stdout, sys.stderr = streams
        log.close()
        for stream in streams:
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for s in saved:
            os.close(s)
        for h in consoles:
            if h not in root.handlers:
                root.addHandler(h)
