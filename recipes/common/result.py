"""Recipe result helpers: the shape of a failed trial and a finiteness check.

Every recipe's ``train(cfg)`` returns a dict with at least ``output`` and ``cost``. A run that
diverges, runs out of memory or raises is a *failed trial*: it returns :func:`failure_result`
instead of letting the exception escape, so a sweep records it and goes on.
"""
from __future__ import annotations

import math
from typing import Any

__all__ = ["failure_result", "finite_or_fail"]


def failure_result(error: str, **metrics: Any) -> dict[str, Any]:
    """Result dict of a failed run.

    Args:
        error: a one-line description of what went wrong (shown in the sweep journal).
        **metrics: anything measured before the failure. ``cost`` (the budget already spent,
            in the sweep's cost unit) is passed through as the top-level ``cost``; every other
            key is stored as given (use ``metric.<name>`` keys for metrics).

    Returns:
        ``{"output": nan, "cost": <spent or 0.0>, "status": "failed", "error": error, ...}``.
    """
    if not isinstance(error, str) or not error:
        raise ValueError("failure_result: 'error' must be a non-empty string describing the failure")
    cost = metrics.pop("cost", 0.0)
    try:
        cost = float(cost)
    except (TypeError, ValueError):
        cost = 0.0
    if not math.isfinite(cost) or cost < 0:
        cost = 0.0
    return {"output": math.nan, "cost": cost, "status": "failed", "error": error, **metrics}


def finite_or_fail(result: dict[str, Any]) -> dict[str, Any]:
    """Return ``result`` unchanged if its ``output`` and ``cost`` are finite numbers, otherwise
    the equivalent :func:`failure_result` (keeping the other entries).

    A successful result gets ``status: "ok"`` if it has no status yet.
    """
    if not isinstance(result, dict):
        raise TypeError(f"finite_or_fail expects the recipe's result dict, got {type(result).__name__}")
    if result.get("status") == "failed":
        return result
    bad = []
    for key in ("output", "cost"):
        value = result.get(key)
        try:
            ok = value is not None and math.isfinite(float(value))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            bad.append(f"{key}={value!r}")
    if bad:
        rest = {k: v for k, v in result.items() if k not in ("output", "status", "error")}
        return failure_result("non-finite result: " + ", ".join(bad), **rest)
    return {"status": "ok", **result}
