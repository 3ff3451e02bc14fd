"""recipes.common.print_result: the entry points' one JSON line."""
from __future__ import annotations

import json
import math

from recipes.common import print_result


def test_non_finite_numbers_are_written_as_null(capsys):
    print_result({"output": math.nan, "cost": 2.0, "metric.mfu": math.inf,
                  "metric.low": -math.inf, "status": "failed", "error": "boom"})
    line = capsys.readouterr().out
    assert line.count("\n") == 1
    assert json.loads(line) == {"output": None, "cost": 2.0, "metric.mfu": None,
                                "metric.low": None, "status": "failed", "error": "boom"}
    assert "NaN" not in line and "Infinity" not in line  # standard JSON only
