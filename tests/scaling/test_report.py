"""The report CLI end to end: files written, summary.json schema, clear errors."""

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from scaling import ReportConfig, run_report
from scaling.cli import build_parser, main

FIT_KEYS = {"fit", "params", "ci", "n_points"}


def _sweep_table(seed=0):
    """A sweep whose front follows known laws: lr ~ C^-0.25, width ~ C^0.3, dropout logit."""
    rng = np.random.default_rng(seed)
    cost = np.logspace(3, 6, 14)
    rows = []
    for i, c in enumerate(cost):
        front = {"trial_id": f"f{i}", "status": "ok", "cost": c,
                 "output": 2.0 + 30.0 * c ** -0.3 * np.exp(0.003 * rng.standard_normal()),
                 "param.lr": 0.5 * c ** -0.25 * np.exp(0.05 * rng.standard_normal()),
                 "param.width": 4.0 * c ** 0.3 * np.exp(0.05 * rng.standard_normal()),
                 "param.dropout": 1 / (1 + 10 ** -(0.5 - 0.2 * np.log10(c))),
                 "param.optimizer": "adam", "param.warmup": 100}
        worse = dict(front, trial_id=f"w{i}", output=front["output"] + 0.5,
                     **{"param.lr": front["param.lr"] * 3})
        rows += [front, worse]
    rows.append(dict(rows[0], trial_id="x", status="failed", output=np.nan))
    return pd.DataFrame(rows)


def _check_schema(records):
    for rec in records:
        assert set(rec) == FIT_KEYS
        assert isinstance(rec["n_points"], int)
        assert all(isinstance(v, float) for v in rec["params"].values())
        assert all(len(v) == 2 and v[0] <= v[1] for v in rec["ci"].values())


def test_cli_on_sweep_directory_journal(tmp_path):
    with sqlite3.connect(tmp_path / "journal.sqlite") as con:
        _sweep_table().to_sql("trials", con, index=False)
    rc = main(["report", str(tmp_path), "--bootstrap", "100", "--quiet",
               "--space", "dropout=logit"])
    assert rc == 0
    out = tmp_path / "scaling"  # a sweep directory's report goes into <dir>/scaling
    records = json.loads((out / "summary.json").read_text())
    _check_schema(records)
    by_fit = {r["fit"]: r for r in records}
    # constant and categorical params are skipped; no Chinchilla columns -> no approaches
    assert set(by_fit) == {"frontier", "param:lr", "param:width", "param:dropout"}
    assert by_fit["frontier"]["n_points"] == 14
    lr = by_fit["param:lr"]
    assert lr["ci"]["exponent"][0] < -0.25 < lr["ci"]["exponent"][1]
    assert by_fit["param:width"]["params"]["exponent"] == pytest.approx(0.3, abs=0.05)
    assert by_fit["param:dropout"]["params"]["slope"] == pytest.approx(-0.2, abs=1e-6)
    for name in ("frontier.png", "param_lr.png", "param_width.png", "param_dropout.png",
                 "summary.md", "summary.csv"):
        assert (out / name).stat().st_size > 0
    csv = pd.read_csv(out / "summary.csv")
    assert {"fit", "param", "value", "low", "high", "n_points"} <= set(csv.columns)
    assert "param:lr" in (out / "summary.md").read_text()
    # a rerun finds the journal again, never the report's own summary.csv
    assert main(["report", str(tmp_path), "--bootstrap", "0", "--quiet", "--no-plots"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.sqlite", "scaling"]


def test_cli_on_epoch_csv(epoch_csv, tmp_path, capsys):
    out = tmp_path / "rep"
    # Epoch's table is auto-detected; Approach 3 drops its 5 highest-loss runs by default
    rc = main(["report", str(epoch_csv), "--out", str(out), "--bootstrap", "50", "--quiet"])
    assert rc == 0
    records = json.loads((out / "summary.json").read_text())
    _check_schema(records)
    by_fit = {r["fit"]: r for r in records}
    assert set(by_fit) == {"frontier", "approach1", "approach2", "approach3"}
    assert by_fit["approach3"]["params"]["alpha"] == pytest.approx(0.3473, abs=0.002)
    assert by_fit["approach3"]["n_points"] == 240
    assert 0.4 < by_fit["approach1"]["params"]["a"] < 0.6
    assert (out / "chinchilla.png").exists() and (out / "frontier.png").exists()
    assert "approach3" in capsys.readouterr().out


def test_default_out_dir_is_next_to_the_file(tmp_path):
    src = tmp_path / "sweep.csv"
    _sweep_table().to_csv(src, index=False)
    run_report(ReportConfig(src=src, n_bootstrap=0, plots=False, progress=False))
    rec = json.loads((tmp_path / "sweep_scaling" / "summary.json").read_text())
    _check_schema(rec)
    assert all(r["ci"] == {} for r in rec)


def test_clear_errors(tmp_path, capsys):
    t = _sweep_table()
    t.drop(columns=["cost"]).to_csv(tmp_path / "nocost.csv", index=False)
    assert main(["report", str(tmp_path / "nocost.csv"), "--out", str(tmp_path / "o1")]) == 2
    err = capsys.readouterr().err
    assert "'cost'" in err and "--cost-column" in err

    t.iloc[:2].to_csv(tmp_path / "tiny.csv", index=False)
    assert main(["report", str(tmp_path / "tiny.csv"), "--out", str(tmp_path / "o2")]) == 2
    assert "too few Pareto-front points" in capsys.readouterr().err

    bad = t.copy()
    bad.loc[3, "cost"] = -1.0
    bad.to_csv(tmp_path / "neg.csv", index=False)
    assert main(["report", str(tmp_path / "neg.csv"), "--out", str(tmp_path / "o3")]) == 2
    assert "non-positive" in capsys.readouterr().err

    with pytest.raises(ValueError, match="spaces\\['lr'\\]"):
        ReportConfig(src=tmp_path, spaces={"lr": "sqrt"})
    with pytest.raises(ValueError, match="level="):
        ReportConfig(src=tmp_path, level=95)


def test_help_documents_every_option():
    sub = build_parser()._subparsers._group_actions[0].choices["report"]
    text = sub.format_help()
    for flag in ("--out", "--cost-column", "--direction", "--bootstrap", "--seed", "--level",
                 "--format", "--space", "--drop-highest", "--isoflop-tol", "--budget",
                 "--no-plots", "--quiet"):
        assert flag in text
    assert all(a.help for a in sub._actions)


def test_maximising_with_another_cost_column(tmp_path):
    rng = np.random.default_rng(5)
    steps = np.logspace(5, 8, 12)
    t = pd.DataFrame({"output": 0.1 * steps ** 0.2 * np.exp(0.01 * rng.standard_normal(12)),
                      "cost": np.arange(1.0, 13.0), "metric.env_steps": steps,
                      "param.lr": 1e-2 * steps ** -0.1})
    t = pd.concat([t, t.assign(output=t["output"] * 0.5, **{"param.lr": 1.0})])
    records = run_report(ReportConfig(src=t, out=tmp_path, cost_column="metric.env_steps",
                                      direction="max", n_bootstrap=100, plots=False,
                                      progress=False))
    by_fit = {r["fit"]: r for r in records}
    assert by_fit["frontier"]["params"]["exponent"] == pytest.approx(0.2, abs=0.02)
    assert by_fit["param:lr"]["params"]["exponent"] == pytest.approx(-0.1, abs=1e-6)
    assert by_fit["frontier"]["n_points"] >= 10
