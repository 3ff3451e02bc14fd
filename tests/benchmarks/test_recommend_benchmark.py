"""The recommend benchmark's scoring: gaps split into parts that add up, losses diagnosed."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks import recommend as rb
from benchmarks.tuners.problems import get_problem


@pytest.mark.parametrize("name", rb.PROBLEMS)
def test_gap_parts_add_up_and_the_space_holds_the_start(name: str) -> None:
    problem = get_problem(name)
    space = rb.search_space(problem)
    start = problem.search_center()
    for key, spec in space.items():
        assert spec["min"] <= spec["center"] <= spec["max"], (name, key)
    assert space["width"]["center"] % 8 == 0 and space["depth"]["center"] == start["depth"]
    cfg = {**start, "lr": 2 * start["lr"], "warmup": 0.2, "weight_decay": 0.02}
    res = rb.gap_parts(problem, cfg, 1e19)
    assert sum(res[p] for p in rb.PARTS) == pytest.approx(res["gap"], abs=1e-9)
    assert res["gap_alloc"] >= -1e-9 and not res["diverged"]


def test_a_loss_names_the_part_that_loses() -> None:
    rows = []
    for seed in range(3):
        for method, lr_part in (("ours", 0.05), ("tok20", 0.01), ("a3_best_lr", 0.2)):
            rows.append({"problem": "p", "factor": 10, "seed": seed, "method": method,
                         "gap": 0.1 + lr_part, "diverged": False, "gap_alloc": 0.1,
                         "gap_lr": lr_part, "gap_warmup": 0.0, "gap_weight_decay": 0.0})
    fig, diagnostics = rb.summarise(pd.DataFrame(rows))
    assert fig["p/10x"]["ours_beats_a3_best_lr"] and not fig["p/10x"]["ours_beats_tok20"]
    (line,) = diagnostics
    assert "loses to tok20 on the mean and median gap" in line and "gap_lr" in line
