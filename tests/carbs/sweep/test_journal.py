"""The sweep journal: SQLite in WAL mode, one row per trial in the trial contract."""

import json
import math
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

from carbs.sweep.journal import JOURNAL_FILE, Journal, JournalError, load_trials

META = {"sweep": "toy", "space": {"lr": {"type": "LogSpace"},
                                  "bias": {"type": "CategoricalSpace", "choices": [False, True]}},
        "objective": "output", "direction": "minimize", "cost_key": "cost"}


@pytest.fixture
def journal(tmp_path):
    j = Journal.create(tmp_path / JOURNAL_FILE, META, ["lr", "bias"])
    yield j
    j.close()


def test_a_trial_is_running_before_launch_and_finished_once(journal):
    journal.add_running("t1", {"lr": 1e-3, "bias": True}, {"kind": "random"})
    (row,) = journal.rows()
    assert row["status"] == "running" and row["attempt"] == 0 and row["job_num"] is None
    journal.launch("t1", job_num=0)
    journal.finish("t1", "ok", 2.5, 10.0, {"metric.flops": 1e12, "tokens": 5},
                   job_dir="/x/0", finished_at="2026-01-01T00:00:00+00:00")
    (row,) = journal.rows()
    assert (row["status"], row["output"], row["cost"], row["attempt"]) == ("ok", 2.5, 10.0, 1)
    assert row["metric.flops"] == 1e12 and row["metric.tokens"] == 5  # new columns on demand
    assert json.loads(row["suggestion"]) == {"kind": "random"}
    with pytest.raises(JournalError, match="not running"):
        journal.finish("t1", "ok", 1.0, 1.0)
    with pytest.raises(JournalError, match="unknown column"):
        journal.add_running("t2", {"lr": 1e-3, "depth": 2})


def test_failures_keep_their_error_and_spent_cost(journal):
    journal.add_running("t1", {"lr": 1e-3, "bias": False})
    journal.finish("t1", "failed", math.nan, 0.0, error="RuntimeError: boom")
    df = journal.to_dataframe()
    assert df.loc[0, "status"] == "failed" and math.isnan(df.loc[0, "output"])
    assert df.loc[0, "error"] == "RuntimeError: boom" and df.loc[0, "cost"] == 0.0


def test_wal_mode_and_contract_columns(tmp_path, journal):
    journal.add_running("t1", {"lr": 1e-3, "bias": True})
    journal.launch("t1", 0)
    journal.finish("t1", "ok", 1.0, 2.0, {"metric.params": 100})
    mode = journal._con.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    df = load_trials(tmp_path)  # a directory or the file
    assert list(df.columns[:5]) == ["trial_id", "sweep", "status", "output", "cost"]
    assert {"param.lr", "param.bias", "metric.params", "error", "started_at", "finished_at",
            "suggestion"} <= set(df.columns)
    assert df["param.bias"].tolist() == [True]  # bools come back as bools, not 0/1
    assert df["param.bias"].dtype == bool
    assert journal.meta["space"] == META["space"] and journal.meta["schema_version"] == 1


def test_scaling_reads_the_journal(tmp_path, journal):
    import scaling

    for i in range(3):
        journal.add_running(f"t{i}", {"lr": 10.0 ** -i, "bias": False})
        journal.finish(f"t{i}", "ok", 3.0 - i, 10.0 ** i, {"metric.flops": 6e9 * 10 ** i})
    t = scaling.load_table(tmp_path)
    assert len(t) == 3 and {"output", "cost", "param.lr", "metric.flops"} <= set(t.columns)


def test_a_finished_trial_survives_a_killed_writer(tmp_path):
    """A process killed right after finish() leaves that row finished (one transaction)."""
    code = f"""
import os, signal
from carbs.sweep.journal import Journal
j = Journal.create({str(tmp_path / JOURNAL_FILE)!r}, {META!r}, ["lr", "bias"])
j.add_running("a", {{"lr": 0.1, "bias": False}})
j.finish("a", "ok", 1.0, 1.0)
j.add_running("b", {{"lr": 0.2, "bias": False}})
os.kill(os.getpid(), signal.SIGKILL)
"""
    subprocess.run([sys.executable, "-c", code], check=False)
    rows = {r["trial_id"]: r["status"] for r in Journal.open(tmp_path).rows()}
    assert rows == {"a": "ok", "b": "running"}


def test_bad_journals_are_named(tmp_path):
    with pytest.raises(JournalError, match="no sweep journal found"):
        Journal.open(tmp_path)
    (tmp_path / JOURNAL_FILE).write_text("not a database")
    with pytest.raises(JournalError, match="not a readable SQLite journal"):
        Journal.open(tmp_path)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE x (a)").connection.close()
    with pytest.raises(JournalError, match="not a CARBS sweep journal"):
        Journal.open(other)
    with pytest.raises(JournalError, match="already exists"):
        Journal.create(tmp_path / JOURNAL_FILE, META, ["lr"])


def test_export_cli_writes_csv_and_parquet(tmp_path, journal):
    journal.add_running("t1", {"lr": 1e-3, "bias": True})
    journal.finish("t1", "ok", 1.0, 2.0)
    journal.close()
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"trials.{fmt}"
        proc = subprocess.run([sys.executable, "-m", "carbs", "export", str(tmp_path), "--format",
                               fmt, "--out", str(out)], capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0, proc.stderr
        df = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
        assert df.loc[0, "trial_id"] == "t1" and df.loc[0, "output"] == 1.0
    proc = subprocess.run([sys.executable, "-m", "carbs", "export", str(tmp_path / "nope")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "no sweep journal found" in proc.stderr
