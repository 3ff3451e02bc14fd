"""recipes.common.run_trial: whatever the training function does, the trial returns a result."""
from __future__ import annotations

import math
import os
import signal
import time

import pytest

from recipes.common import TrialFailed, is_single_run, run_trial


def _ok(cfg, scale=1.0):
    return {"output": cfg["x"] * scale, "cost": 3.0, "metric.steps": 7}


def test_a_good_result_passes_through_with_status_ok():
    result = run_trial(_ok, {"x": 2.0}, scale=0.5)
    assert result == {"status": "ok", "output": 1.0, "cost": 3.0, "metric.steps": 7}


@pytest.mark.parametrize(("exc", "words"), [
    (ValueError("train.lr: must be a positive number, got -1"), "ValueError: train.lr: must"),
    (FileNotFoundError("data.paths: nothing matches 'x/*.txt'"), "data.paths"),
    (KeyError("data.text_field"), "KeyError: 'data.text_field'"),
    (RuntimeError(""), "RuntimeError (no message)"),
])
def test_any_exception_is_a_failed_result_with_its_text(exc, words):
    def boom(cfg):
        raise exc

    result = run_trial(boom, {})
    assert result["status"] == "failed" and math.isnan(result["output"])
    assert result["cost"] == 0.0 and words in result["error"]


def test_a_failure_that_knows_its_cost_keeps_it():
    def spent(cfg):
        raise TrialFailed("diverged at step 3", cost=12.5, **{"metric.steps": 3})

    result = run_trial(spent, {})
    assert result["status"] == "failed" and result["cost"] == 12.5
    assert result["error"] == "diverged at step 3" and result["metric.steps"] == 3


@pytest.mark.parametrize(("returned", "words"), [
    ({"output": math.nan, "cost": 1.0}, "non-finite result: output=nan"),
    ({"output": 1.0, "cost": math.inf}, "cost=inf"),
    ({"output": 1.0}, "returned no 'cost'"),
    ([1.0, 2.0], "returned list"),
])
def test_bad_results_are_failures(returned, words):
    result = run_trial(lambda cfg: returned, {})
    assert result["status"] == "failed" and words in result["error"]
    assert math.isnan(result["output"]) and math.isfinite(result["cost"])


def test_a_recipes_own_failure_is_completed_not_replaced():
    result = run_trial(lambda cfg: {"status": "failed", "error": "out of memory", "cost": 5.0}, {})
    assert result["error"] == "out of memory" and result["cost"] == 5.0
    assert math.isnan(result["output"])
    bare = run_trial(lambda cfg: {"status": "failed", "cost": -1.0}, {})
    assert bare["error"] and bare["cost"] == 0.0  # the contract: cost >= 0


def test_keyboard_interrupt_is_not_swallowed():
    def interrupted(cfg):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_trial(interrupted, {})


def test_outside_hydra_is_not_a_single_run():
    assert is_single_run() is False


def test_an_interrupted_trial_exits_instead_of_reporting_a_failure():
    """SIGTERM (pre-emption) that a library turns into an exception, even mid checkpoint
    write, ends the process as interrupted: the sweep must not record a failed trial."""
    def library_handler(signum, frame):  # like a C++ writer surfacing the interruption
        raise RuntimeError("[enforce fail at inline_container.cc:659] unexpected pos")

    def train_fn(cfg):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this returns
        return {"output": 1.0, "cost": 1.0}

    before = signal.signal(signal.SIGTERM, library_handler)
    try:
        with pytest.raises(SystemExit) as stop:
            run_trial(train_fn, {})
        assert stop.value.code == 128 + signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) is library_handler  # restored afterwards
    finally:
        signal.signal(signal.SIGTERM, before)
