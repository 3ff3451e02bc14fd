"""recipes.common.result: the failed-trial shape shared by the recipes."""
from __future__ import annotations

import math

import pytest

from recipes.common import failure_result, finite_or_fail


def test_failure_result_shape():
    r = failure_result("diverged at step 3", cost=12.5, **{"metric.steps": 3})
    assert math.isnan(r["output"]) and r["cost"] == 12.5 and r["status"] == "failed"
    assert r["error"] == "diverged at step 3" and r["metric.steps"] == 3
    assert failure_result("oom")["cost"] == 0.0
    assert failure_result("x", cost=float("nan"))["cost"] == 0.0
    with pytest.raises(ValueError, match="error"):
        failure_result("")


def test_finite_or_fail():
    ok = finite_or_fail({"output": 2.5, "cost": 10.0, "metric.params": 7})
    assert ok["status"] == "ok" and ok["output"] == 2.5
    bad = finite_or_fail({"output": float("inf"), "cost": 10.0, "metric.params": 7})
    assert bad["status"] == "failed" and "output" in bad["error"]
    assert bad["cost"] == 10.0 and bad["metric.params"] == 7
    assert finite_or_fail({"output": 1.0, "cost": None})["status"] == "failed"
    already = failure_result("boom")
    assert finite_or_fail(already) is already
