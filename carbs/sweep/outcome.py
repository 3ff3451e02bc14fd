"""A trial's outcome from what its task left: the worker's record, or Hydra's ``JobReturn``.

A task that raises, returns a failed status or a non-finite objective, or a successful trial
whose cost is not > 0, is a failed trial. A result without the objective or cost key carries a
``schema_error``: no trial of the sweep could ever succeed, so the sweep stops.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrialOutcome", "interpret_result", "outcome_from_job_return", "outcome_from_record"]

_RESERVED = {"output", "cost", "status", "error"}


@dataclass
class TrialOutcome:
    """A finished trial as the journal and the optimiser take it."""

    status: str  # "ok" | "failed"
    output: float
    cost: float
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    job_dir: str | None = None
    finished_at: str | None = None
    worker: str | None = None  # host:pid of the process that ran it
    node: str | None = None  # its Ray node, SLURM node or host
    schema_error: str | None = None  # the result can never carry the objective: stop the sweep


def _lookup(result: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    """``result[key]``, or a nested lookup along the dots of ``key``."""
    if key in result:
        return True, result[key]
    node: Any = result
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _real(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return math.nan
    return float(v)


def _as_returned(v: Any) -> str:
    """A returned value as the message names it: its repr, and its type when it is not a
    number (``'9.13' (a str; return a number)``)."""
    text = f"{v!r:.60}"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        text += f" (a {type(v).__name__}; return a number)"
    return text


def interpret_result(result: Any, objective: str, cost_key: str) -> TrialOutcome:
    """A task's returned value as a trial outcome (failed when it says so, or when the objective
    is not a finite number, or a successful trial's cost is not > 0)."""
    if not isinstance(result, Mapping):
        msg = (f"the task returned {type(result).__name__} ({result!r:.80}); a CARBS sweep needs "
               f"a dict with the objective {objective!r} and the cost {cost_key!r}")
        return TrialOutcome("failed", math.nan, 0.0, error=msg, schema_error=msg)
    failed = result.get("status") == "failed"
    metrics = {}
    for k, v in result.items():
        if (k not in _RESERVED and not isinstance(v, bool) and isinstance(v, (int, float))
                and math.isfinite(v)):
            metrics[k if k.startswith("metric.") else f"metric.{k}"] = float(v)
    has_obj, obj = _lookup(result, objective)
    has_cost, cost_raw = _lookup(result, cost_key)
    output, cost = _real(obj), _real(cost_raw)
    error = str(result.get("error") or "") or None
    keys = sorted(result)
    if failed:
        spent = cost if math.isfinite(cost) and cost >= 0 else 0.0
        return TrialOutcome("failed", math.nan, spent, metrics, error or "the task reported "
                            "status 'failed'")
    if not has_obj:
        msg = f"the result has no objective key {objective!r} (its keys: {keys})"
        return TrialOutcome("failed", math.nan, 0.0, metrics, msg, schema_error=msg)
    if not has_cost:
        msg = f"the result has no cost key {cost_key!r} (its keys: {keys})"
        return TrialOutcome("failed", math.nan, 0.0, metrics, msg, schema_error=msg)
    spent = cost if math.isfinite(cost) and cost >= 0 else 0.0
    if not math.isfinite(output):
        return TrialOutcome("failed", math.nan, spent, metrics,
                            f"objective {objective!r} is not a finite number: the task "
                            f"returned {_as_returned(obj)}")
    if not (math.isfinite(cost) and cost > 0):
        return TrialOutcome("failed", math.nan, spent, metrics,
                            f"cost {cost_key!r} must be a finite number > 0; the task returned "
                            f"{_as_returned(cost_raw)}")
    return TrialOutcome("ok", output, cost, metrics)


def outcome_from_record(record: Mapping[str, Any], objective: str, cost_key: str) -> TrialOutcome:
    """A worker's record (:mod:`carbs.sweep.task`) as a trial outcome."""
    if record.get("kind") == "returned":
        out = interpret_result(record.get("result"), objective, cost_key)
    else:
        out = TrialOutcome("failed", math.nan, 0.0,
                           error=str(record.get("error") or "the task raised"))
    if isinstance(record.get("seconds"), (int, float)):
        out.metrics["metric.job_seconds"] = float(record["seconds"])
    out.job_dir, out.finished_at = record.get("job_dir"), record.get("finished_at")
    if record.get("host") is not None:
        out.worker, out.node = f"{record['host']}:{record.get('pid')}", record.get("node")
    return out


def outcome_from_job_return(ret: Any, objective: str, cost_key: str) -> TrialOutcome:
    """Hydra's ``JobReturn`` as a trial outcome (when the worker left no record), through its
    public ``status`` and ``return_value`` (which re-raises a failed job's exception)."""
    from hydra.core.utils import JobStatus

    if ret is None:
        return TrialOutcome("failed", math.nan, 0.0, error="no result: the job's worker died "
                            "or the launcher lost it")
    if ret.status == JobStatus.COMPLETED:
        return interpret_result(ret.return_value, objective, cost_key)
    if ret.status != JobStatus.FAILED:
        return TrialOutcome("failed", math.nan, 0.0, error=f"job status {ret.status.name}")
    try:
        # return_value writes "Error executing job with overrides ..." to stderr before it
        # re-raises: the sweep reports the error itself, once
        with contextlib.redirect_stderr(io.StringIO()):
            ret.return_value  # noqa: B018
    except Exception as err:  # noqa: BLE001  (the job's own exception, whatever it is)
        return TrialOutcome("failed", math.nan, 0.0, error=f"{type(err).__name__}: {err}")
    return TrialOutcome("failed", math.nan, 0.0, error="job failed")
