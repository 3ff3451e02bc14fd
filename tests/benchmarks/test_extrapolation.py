"""The 10x benchmark on the shipped CPU sweep: the three arms spend the same FLOPs, each as it
says; a quick run trains, writes its table and JSON line, a second run reuses it, and
``--collect`` tabulates the saved runs without training."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from benchmarks import extrapolation as ex

# Composer loads in the xdist worker that already runs the in-process training tests
pytestmark = pytest.mark.xdist_group("composer")


@pytest.fixture(scope="module")
def plan():
    table = ex.load_sweep(ex.DEFAULT_SWEEP, "metric.params_non_embedding")
    meta = ex.journal_meta(ex.DEFAULT_SWEEP)
    cfg = ex.base_config(meta["sweep"], quick=True)
    budget = 10 * float(table[ex.COST].max())
    arms, prediction = ex.plan_arms(table, meta["space"], cfg, 10.0, budget, n_bootstrap=30)
    return table, cfg, budget, {a.name: a for a in arms}, prediction


def test_every_arm_spends_the_budget_its_own_way(plan) -> None:
    table, cfg, budget, arms, prediction = plan
    assert set(arms) == set(ex.ARMS)
    batch = int(cfg.train.batch_tokens)
    for arm in arms.values():
        fpt, n, _ = ex.shape_cost(cfg, arm.params["model.d_model"], arm.params["model.n_layers"])
        assert abs(fpt * arm.params["train.tokens"] - budget) <= fpt * batch / 2, arm.name
    best = ex.best_front_trial(table)
    more = arms["best_more_tokens"].params
    assert (more["model.d_model"], more["model.n_layers"], more["train.lr"]) == (
        best["param.model.d_model"], best["param.model.n_layers"], best["param.train.lr"])
    twenty = arms["twenty_tpp"].params
    _, n, _ = ex.shape_cost(cfg, twenty["model.d_model"], twenty["model.n_layers"])
    assert 12 < twenty["train.tokens"] / n < 32  # 20 tokens per parameter, up to the width grid
    lo, hi = prediction["predicted_low"], prediction["predicted_high"]
    assert lo <= prediction["predicted_output"] <= hi
    assert prediction["extrapolation_decades"] > 0.9


def test_quick_run_trains_writes_and_resumes(tmp_path, capsys, monkeypatch) -> None:
    argv = ["--quick", "--out", str(tmp_path), "--arms", "recommended"]
    assert ex.main(argv) == 0
    (summary,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rec = summary["arms"]["recommended"]
    assert rec["n"] == 1 and 0 < rec["mean"] < 6
    rows = pd.read_csv(tmp_path / "extrapolation.csv")
    assert list(rows["arm"]) == ["recommended"] and rows["status"].eq("ok").all()
    assert rows["metric.flops"].iloc[0] == pytest.approx(summary["budget"], rel=0.05)

    def no_training(cfg):
        raise AssertionError("a finished run was trained again")

    import recipes.lm.training

    monkeypatch.setattr(recipes.lm.training, "train", no_training)
    assert ex.main(argv) == 0  # reuses OUT/runs/...
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again[0]["arms"]["recommended"]["mean"] == rec["mean"]
    (tmp_path / "extrapolation.csv").unlink()
    assert ex.main(["--collect", "--out", str(tmp_path)]) == 0  # the table from the saved runs
    collected = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert collected[0]["arms"]["recommended"] == rec
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "extrapolation.csv"), rows)
    with pytest.raises(SystemExit, match="plan.json does not exist"):
        ex.main(["--collect", "--out", str(tmp_path / "elsewhere")])
    with pytest.raises(SystemExit, match="does not exist"):
        ex.main(["--sweep", str(tmp_path / "missing.sqlite"), "--plan-only"])


@pytest.mark.parametrize("argv, flag", [
    (["--factors", "0"], "--factors 0"),
    (["--factors", "nan"], "--factors nan"),
    (["--seeds", "-1"], "--seeds -1"),
    (["--override", "train.device"], "--override 'train.device'"),
    (["--bootstrap", "0"], "--bootstrap 0"),
])
def test_bad_arguments_are_refused_naming_the_flag_before_anything_runs(argv, flag, tmp_path,
                                                                          capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        ex.main([*argv, "--out", str(tmp_path / "out"), "--plan-only"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and "give" in err
    assert not (tmp_path / "out").exists()  # nothing written
