"""The GPU-scale extrapolation check: its sweep config is a valid GPU run whose search centre
lies in 1e15-1e17 FLOPs, and its dry run goes through every step on the CPU (a real sweep in its
own process, then a real 10x-style run on the shipped CPU sweep)."""
from __future__ import annotations

import math

import pytest
import yaml

from benchmarks import extrapolation as ex
from benchmarks import gpu_extrapolation as gx

pytestmark = pytest.mark.xdist_group("composer")


def test_gpu_sweep_config_is_a_gpu_run_in_the_asked_flops_range() -> None:
    from recipes.lm.config import to_lm_config

    cfg = ex.base_config("lm_gpu_scaling", quick=False)
    lm = to_lm_config(cfg)
    assert (lm.train.device, lm.train.precision, lm.data.tokenizer) == ("gpu", "amp_bf16", "bytes")
    spec = yaml.safe_load((ex.ROOT / "conf" / "sweep" / "lm_gpu_scaling.yaml").read_text())
    space = spec["hydra"]["sweeper"]["search_space"]
    fpt, _, _ = ex.shape_cost(cfg, space["model.d_model"]["center"],
                              space["model.n_layers"]["center"])
    centre = fpt * space["train.tokens"]["center"]
    assert 15 <= math.log10(centre) <= 17, centre
    assert 1e15 <= float(spec["hydra"]["sweeper"]["max_suggestion_cost"]) <= 1e17


def test_dry_run_goes_through_every_step(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    result = gx.run(tmp_path, dry=True, trials=1, arms=["recommended"])
    sweep = result["sweep"]
    assert sweep["returncode"] == 0 and sweep["trials"] == 1 and sweep["ok"] == 1, sweep
    assert "+sweep=lm_cpu_scaling" in sweep["command"] and "train.device=cpu" in sweep["command"]
    (summary,) = result["extrapolation"]
    assert summary["arms"]["recommended"]["n"] == 1 and summary["arms"]["recommended"]["mean"] > 0
    assert (tmp_path / "result.json").is_file() and (tmp_path / "sweep.log").is_file()
