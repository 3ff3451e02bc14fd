"""The records a trial's worker leaves in the sweep directory, and how the sweeper reads them.

Two small JSON files per launched job, written by :class:`carbs.sweep.task.TrialTask` wherever
the launcher runs it (a local process, a SLURM node, a Ray worker) and read by the sweeper:

- ``.carbs/workers/job-<num>.json``, written when the trial starts: which trial of which sweep
  (``sweep_uid``, ``trial_id``, ``attempt``, ``job_num``) and where it runs (host, pid, the
  pid's start time, the Ray node or SLURM job); its modification time is the worker's
  heartbeat, touched every :data:`HEARTBEAT_S` seconds while the trial runs;
- ``.carbs/results/job-<num>.json``, written atomically the moment the task returns or raises:
  the same identity plus the outcome (the returned value, or the error).

A result is the trial's ground truth: a sweep that died while its workers ran ingests it on
resume instead of running the trial again. A record is matched to its trial by all four
identity fields, not by job number alone: a record left by another sweep (an earlier sweep in
the same directory, another attempt) is ignored with a warning.

Records are plain files written by one writer each (atomic rename), so they work on shared
storage (NFS) where SQLite's locking may not.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tays import atomic_write_text

logger = logging.getLogger("carbs.sweep")

__all__ = [
    "HEARTBEAT_S",
    "Heartbeat",
    "TrialRef",
    "plain",
    "read_result",
    "read_start",
    "result_path",
    "start_path",
    "this_worker",
    "worker_state",
    "write_result",
    "write_start",
]

RESULTS = Path(".carbs") / "results"
WORKERS = Path(".carbs") / "workers"
#: How often a running trial's worker touches its start record.
HEARTBEAT_S = 10.0
#: A worker on another host whose heartbeat is older than this is taken for dead.
STALE_AFTER_S = 6 * HEARTBEAT_S


@dataclass(frozen=True)
class TrialRef:
    """Which run of which trial a job is: the identity every record carries."""

    sweep_uid: str
    trial_id: str
    attempt: int
    job_num: int


def result_path(sweep_dir: str | os.PathLike, job_num: int) -> Path:
    """Where the worker of job ``job_num`` writes its result."""
    return Path(sweep_dir) / RESULTS / f"job-{int(job_num)}.json"


def start_path(sweep_dir: str | os.PathLike, job_num: int) -> Path:
    """Where the worker of job ``job_num`` says that it started, and where."""
    return Path(sweep_dir) / WORKERS / f"job-{int(job_num)}.json"


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON copy of a task's return value (numpy/torch scalars -> numbers, unknown objects ->
    their repr). Non-finite floats are kept (the records are read by Python, which reads
    ``Infinity``/``NaN``), so a bad cost is reported as the task returned it."""
    if depth > 8:
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        try:
            value = value.item()
        except (TypeError, ValueError, RuntimeError):
            return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def this_worker() -> dict[str, Any]:
    """Where this process runs: host, pid, the pid's start time, and the Ray node / SLURM job
    when there is one (``node`` is the most specific of them)."""
    info: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(),
                            "ppid": os.getppid()}
    try:
        import psutil

        info["pid_started"] = psutil.Process().create_time()
    except (ImportError, OSError):
        pass
    ray = sys.modules.get("ray")
    if ray is not None:
        try:
            if ray.is_initialized():
                info["ray_node"] = ray.get_runtime_context().get_node_id()
        except Exception:  # noqa: BLE001, S110  (a worker outside Ray's runtime context)
            pass
    for key, env in (("slurm_job_id", "SLURM_JOB_ID"), ("slurm_node", "SLURMD_NODENAME")):
        if os.environ.get(env):
            info[key] = os.environ[env]
    info["node"] = info.get("ray_node") or info.get("slurm_node") or info["host"]
    return info


def write_start(sweep_dir: str | os.PathLike, ref: TrialRef, worker: Mapping[str, Any]) -> Path:
    """The start record of ``ref`` (its modification time is the first heartbeat)."""
    path = start_path(sweep_dir, ref.job_num)
    atomic_write_text(path, json.dumps({**asdict(ref), **worker, "started": time.time()}))
    return path


def write_result(sweep_dir: str | os.PathLike, ref: TrialRef, record: Mapping[str, Any]) -> None:
    """The result record of ``ref`` (atomic: a reader sees all of it or nothing)."""
    atomic_write_text(result_path(sweep_dir, ref.job_num), json.dumps({**record, **asdict(ref)}))


class Heartbeat:
    """Touches a start record every ``interval_s`` seconds from a daemon thread, while a trial
    runs (a context manager)."""

    def __init__(self, path: Path, interval_s: float = HEARTBEAT_S):
        self.path, self.interval_s = path, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="carbs-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                os.utime(self.path)
            except OSError:
                return

    def __enter__(self) -> Heartbeat:  # noqa: PYI034  (typing.Self needs Python 3.11)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()


_warned: set[tuple[str, str]] = set()


def _read(path: Path, ref: TrialRef) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):  # missing, or unreadable (atomic writes: tampered with)
        return None
    if not isinstance(record, dict):
        return None
    mine = {k: record.get(k) for k in ("sweep_uid", "trial_id", "attempt", "job_num")}
    if mine != asdict(ref):
        key = (str(path), json.dumps(mine, default=str))
        if key not in _warned:
            _warned.add(key)
            logger.warning("ignoring %s: it belongs to sweep %s, trial %s, attempt %s, not to "
                           "trial %s attempt %s of this sweep (%s); a stale record", path,
                           mine["sweep_uid"], mine["trial_id"], mine["attempt"], ref.trial_id,
                           ref.attempt, ref.sweep_uid)
        return None
    return record


def read_result(sweep_dir: str | os.PathLike, ref: TrialRef) -> dict[str, Any] | None:
    """The result of ``ref``, or None (not finished, never started, or another trial's)."""
    return _read(result_path(sweep_dir, ref.job_num), ref)


def read_start(sweep_dir: str | os.PathLike, ref: TrialRef) -> dict[str, Any] | None:
    """The start record of ``ref`` with its heartbeat age (``heartbeat_age_s``), or None."""
    path = start_path(sweep_dir, ref.job_num)
    record = _read(path, ref)
    if record is not None:
        try:
            record["heartbeat_age_s"] = max(0.0, time.time() - path.stat().st_mtime)
        except OSError:
            return None
    return record


def worker_state(start: Mapping[str, Any] | None) -> str:
    """``alive``, ``dead`` or ``unknown`` for the trial of a start record. A trial is alive while
    its heartbeat is fresh (the worker touches it until the trial ends, result or not); on this
    host, a worker whose pid is gone (or reused) is dead at once."""
    if start is None:
        return "unknown"
    if start.get("host") == socket.gethostname() and "pid" in start:
        import psutil

        try:
            proc = psutil.Process(int(start["pid"]))
            started = start.get("pid_started")
            if started is not None and not math.isclose(proc.create_time(), float(started),
                                                        abs_tol=1.0):
                return "dead"  # the pid was reused
            if proc.status() == psutil.STATUS_ZOMBIE:
                return "dead"
        except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
            return "dead"
    age = start.get("heartbeat_age_s")
    if age is None:
        return "unknown"
    return "alive" if age < STALE_AFTER_S else "dead"


def end_orphan(start: Mapping[str, Any] | None) -> bool:
    """End the worker of a finished trial when it is an orphan of a dead sweep: on this host,
    the same process (pid and start time), and no longer the child of the process that
    started it (a joblib/loky worker would otherwise idle on for minutes). Returns whether it
    did."""
    if not start or start.get("host") != socket.gethostname() or "ppid" not in start:
        return False
    import psutil

    try:
        proc = psutil.Process(int(start["pid"]))
        if (not math.isclose(proc.create_time(), float(start.get("pid_started", 0)), abs_tol=1.0)
                or proc.ppid() == int(start["ppid"]) or proc.pid == os.getpid()):
            return False
        proc.terminate()
        proc.wait(timeout=5)
    except (psutil.Error, ValueError, TypeError):
        return False
    logger.info("ended pid %s, an idle worker left by the dead sweep", start["pid"])
    return True
