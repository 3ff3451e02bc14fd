"""The chinchilla_replication notebook's Approach 3 is the `scaling` package's, on the same
table: the same numbers `python -m scaling report` writes for the shipped Epoch table."""

from __future__ import annotations

import json

import pytest

import scaling
from scaling import ReportConfig, run_report

# Under `pytest -n 2 --dist loadgroup` the tests that read the executions share one worker,
# so the seven notebooks execute once per session, not once per worker.
pytestmark = pytest.mark.xdist_group("notebooks")


def test_notebook_approach3_equals_the_scaling_report(executions, tmp_path) -> None:
    run = executions["chinchilla_replication"]
    assert run.returncode == 0, run.output[-4000:]
    notebook = json.loads((run.figures / "chinchilla_replication.json").read_text())["approach3"]
    records = run_report(ReportConfig(src=scaling.chinchilla_epoch_path(), out=tmp_path / "r",
                                      n_bootstrap=0, plots=False, progress=False))
    (report,) = [r["params"] for r in records if r["fit"] == "approach3"]
    for key in ("alpha", "beta", "a", "b", "E", "A", "B"):
        assert notebook[key] == pytest.approx(report[key], rel=1e-9), key
    # and both are Epoch AI's replication (Besiroglu et al. 2024: alpha 0.3473, beta 0.3672)
    assert notebook["alpha"] == pytest.approx(0.3473, abs=5e-4)
    assert notebook["beta"] == pytest.approx(0.3672, abs=5e-4)
    assert notebook["a"] == pytest.approx(0.514, abs=1e-3)
