"""The task side of a CARBS sweep: a wrapper around the Hydra task function that leaves a
durable record of every finished trial, whatever launcher runs it.

Hydra launchers hand results back only when a whole batch is done. If the sweep process dies
mid-batch, the trials its workers already finished would be lost; so each worker writes its
trial's outcome to ``<sweep dir>/.carbs/results/job-<num>.json`` (atomically) the moment the
task returns or raises. The sweeper reads these records (they are the ground truth for a
trial's outcome) and writes the journal; a resumed sweep ingests the records of trials that
finished after the sweeper died instead of running them again.

The wrapper is pickled to the launcher's workers (joblib, submitit, ray...), so it holds only
the task function and a folder path.
"""

from __future__ import annotations

import json
import math
import os
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from carbs.state import atomic_write_text, utc_now

__all__ = ["TrialTask", "read_trial_record", "record_path"]


def record_path(results_dir: str | os.PathLike, job_num: int) -> Path:
    """Where the worker of job ``job_num`` writes its record."""
    return Path(results_dir) / f"job-{int(job_num)}.json"


def _plain(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of a task's return value (numpy/torch scalars -> numbers, non-finite ->
    None, unknown objects -> their repr)."""
    if depth > 8:
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        try:
            value = value.item()
        except (TypeError, ValueError, RuntimeError):
            return repr(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return repr(value)


class TrialTask:
    """Calls ``task_function(cfg)`` and records its outcome for the sweeper.

    Args:
        task_function: the Hydra app's task function.
        results_dir: absolute folder for the trial records (on storage the sweeper can read).
    """

    def __init__(self, task_function: Callable[[Any], Any], results_dir: str):
        self.task_function = task_function
        self.results_dir = str(results_dir)
        self.result_keys = getattr(task_function, "result_keys", None)

    def __call__(self, cfg: Any) -> Any:
        from hydra.core.hydra_config import HydraConfig

        hc = HydraConfig.get()
        job_num = int(hc.job.num)
        record: dict[str, Any] = {"job_num": job_num, "job_dir": str(hc.runtime.output_dir),
                                  "started_at": utc_now(), "pid": os.getpid()}
        t0 = time.perf_counter()
        try:
            value = self.task_function(cfg)
        except BaseException as e:  # recorded, then re-raised for Hydra
            if isinstance(e, KeyboardInterrupt) or _signal_exit(e):
                # interrupted (Ctrl-C, SIGTERM from a scheduler), not finished: no record, so
                # a resumed sweep relaunches the trial instead of counting it as failed
                raise
            error = (f"SystemExit: the task called sys.exit({e.code})" if isinstance(e, SystemExit)
                     else f"{type(e).__name__}: {e}".strip())
            record.update(kind="raised", error=error,
                          traceback=traceback.format_exc(limit=-6),
                          seconds=time.perf_counter() - t0, finished_at=utc_now())
            self._write(job_num, record)
            if isinstance(e, SystemExit):  # a task calling sys.exit must not end the sweep
                raise RuntimeError(f"the task called sys.exit({e.code})") from None  # noqa: TRY004
            raise
        record.update(kind="returned", result=_plain(value), seconds=time.perf_counter() - t0,
                      finished_at=utc_now())
        self._write(job_num, record)
        return value

    def _write(self, job_num: int, record: dict[str, Any]) -> None:
        atomic_write_text(record_path(self.results_dir, job_num),
                          json.dumps(record, allow_nan=False))


def _signal_exit(e: BaseException) -> bool:
    """A ``SystemExit(128 + signal)``: how Composer and ``recipes.common.run_trial`` end a
    process that received SIGTERM / SIGINT."""
    return isinstance(e, SystemExit) and isinstance(e.code, int) and 128 < e.code < 160


def read_trial_record(results_dir: str | os.PathLike, job_num: int | None) -> dict[str, Any] | None:
    """The record of job ``job_num``, or None when the job never finished or never started
    (or its record is unreadable: atomic writes make that a sign of tampering, not of a crash)."""
    if job_num is None:
        return None
    path = record_path(results_dir, job_num)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and record.get("job_num") == job_num else None
