"""The trial contract on the recipe side: one wrapper that never lets a trial crash a sweep.

``run_trial(train_fn, cfg, **kwargs)`` calls a recipe's training function and always returns a
result dict (the recipe result of docs/architecture.md): the function's own result when its ``output`` and
``cost`` are finite numbers, otherwise a failed trial; any exception, a bad config included,
becomes :func:`~recipes.common.result.failure_result` with the error text. A recipe that knows
the cost it spent before failing returns its own failure result (or raises :class:`TrialFailed`
carrying the spent metrics); an exception that escapes without that reports a cost of 0.

A trial stopped by SIGTERM / SIGINT (pre-emption, a killed worker, Ctrl-C) is not a failed trial:
whatever the training function made of the interruption (a library may turn the signal into an
exception at any point, even inside a checkpoint write), ``run_trial`` ends the process as
interrupted (``SystemExit(128 + signal)``), so a sweep can resume the trial instead of recording
a failure.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from recipes.common.result import failure_result, finite_or_fail

__all__ = ["TrialFailed", "describe_error", "run_trial"]

log = logging.getLogger(__name__)


class TrialFailed(Exception):
    """A failure inside training that knows what it spent: ``run_trial`` turns it into a failed
    result with these metrics (``cost`` and ``metric.*`` keys)."""

    def __init__(self, error: str, **metrics: Any) -> None:
        super().__init__(error)
        self.error = error
        self.metrics = metrics


def describe_error(exc: BaseException) -> str:
    """One line for the journal's ``error`` column: ``<Type>: <message>`` (a ``ValueError``
    naming a config field keeps the field first in its message)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (no message)"


@contextmanager
def _watch_interruptions() -> Iterator[list[int]]:
    """Record SIGTERM / SIGINT received while the trial runs, then let the handler that was
    installed before (e.g. Composer's ``sys.exit(128 + signal)``, or the default) act. Only
    in the main thread (where Python delivers signals); elsewhere nothing is recorded."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    watched = (signal.SIGTERM, signal.SIGINT)
    previous = {signum: signal.getsignal(signum) for signum in watched}

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        before = previous[signum]
        if callable(before):
            before(signum, frame)
        elif before == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for signum in watched:
        signal.signal(signum, handler)
    try:
        yield received
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before if before is not None else signal.SIG_DFL)


def run_trial(train_fn: Callable[..., Mapping[str, Any]], cfg: Any, /,
              **kwargs: Any) -> dict[str, Any]:
    """Run ``train_fn(cfg, **kwargs)`` as a trial: never raises for an error inside it.

    Returns:
        ``train_fn``'s result (with ``status: "ok"``) when ``output`` and ``cost`` are finite;
        otherwise a failed result (``output`` NaN, ``status: "failed"``, ``error``, the cost
        spent when known, else 0). A result that is not a mapping, or lacks ``output`` or
        ``cost``, is a failure naming what is missing.
    """
    trace = None
    with _watch_interruptions() as interrupted:
        try:
            result = train_fn(cfg, **kwargs)
        except TrialFailed as exc:
            result = failure_result(exc.error, **exc.metrics)
        except Exception as exc:  # noqa: BLE001  (a failed trial, never a crashed sweep)
            trace = traceback.format_exc()
            result = failure_result(describe_error(exc))
    if interrupted:  # killed, not failed: exit as the signal asked
        log.warning("trial interrupted by signal %d: exiting without a result", interrupted[0])
        raise SystemExit(128 + interrupted[0])
    if trace is not None:
        log.error("trial failed:\n%s", trace)
    elif isinstance(result, Mapping) and result.get("status") == "failed":
        log.error("trial failed: %s", result.get("error"))
    name = getattr(train_fn, "__qualname__", repr(train_fn))
    if not isinstance(result, Mapping):
        return failure_result(f"{name} returned {type(result).__name__}, not a result dict "
                              "with 'output' and 'cost'")
    result = dict(result)
    rest = {k: v for k, v in result.items() if k not in ("output", "status", "error")}
    if result.get("status") == "failed":  # the recipe's own failure: complete its shape
        return failure_result(str(result.get("error") or "failed without an error message"),
                              **rest)
    missing = [key for key in ("output", "cost") if key not in result]
    if missing:
        return failure_result(f"{name} returned no {' / '.join(repr(k) for k in missing)} "
                              f"(keys: {sorted(result)[:10]})", **rest)
    return finite_or_fail(result)
