"""The latency benchmark times every arm, cold and warm, at the thread count it is given."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import suggest_latency as sl


def test_every_arm_cold_and_warm_at_the_given_thread_count(capsys, monkeypatch) -> None:
    monkeypatch.setattr(sl, "REPEATS", 2)
    before = torch.get_num_threads()
    try:
        sl.main(["--threads", "2"], grid=[(12, 2, 2)])
        assert torch.get_num_threads() == 2  # set for the whole run, so for every arm
    finally:
        torch.set_num_threads(before)
    out = capsys.readouterr().out.strip().splitlines()
    assert "every arm at 2 thread(s)" in out[0]
    (r,) = json.loads(out[-1])
    assert r["benchmark"] == "suggest_latency" and r["threads"] == 2
    assert (r["n_obs"], r["dims"]) == (12, 2)
    for arm in ("ours", "reference", "optuna_gp"):
        for call in ("cold", "warm"):
            v = r[f"{arm}_{call}_s"]
            assert v is not None and v > 0, (arm, call)
    assert r["reference"] == sl.REFERENCE_NAME
    assert r["reference_extrapolated"] is True and r["reference_steps_timed"] == 2
    assert r["speedup_cold_vs_reference"] == pytest.approx(
        r["reference_cold_s"] / r["ours_cold_s"], rel=0.05, abs=0.1)
    with pytest.raises(SystemExit):
        sl.main(["--threads", "0"])


def test_beyond_max_fit_points_the_refit_every_call_baseline_runs_in_the_same_process(
        capsys, monkeypatch) -> None:
    monkeypatch.setattr(sl, "REPEATS", 2)
    monkeypatch.setattr(sl, "OPTUNA_REPEATS", 1)
    sl.main(["--threads", "1"], grid=[(301, 2, 1)])
    (r,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("refit_every_call_warm_s", "refit_every_call_warm_objective",
                "ours_warm_objective", "ours_warm_cpu_s", "speedup_warm_vs_refit_every_call"):
        assert r[key] is not None and r[key] > 0, key
