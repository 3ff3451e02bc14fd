import sqlite3

import numpy as np
import pandas as pd
import pytest

from scaling import find_table_file, from_epoch, is_epoch_table, load_table


def _table():
    return pd.DataFrame({"trial_id": ["a", "b", "c"], "status": ["ok", "failed", "ok"],
                         "output": [3.0, np.nan, 2.0], "cost": [1.0, 2.0, 4.0],
                         "param.lr": [0.1, 0.2, 0.05], "param.opt": ["adam", "sgd", "adam"],
                         "metric.flops": [1e3, 2e3, 4e3]})


def _write_journal(path, df):
    with sqlite3.connect(path) as con:
        df.to_sql("trials", con, index=False)


def test_sqlite_csv_parquet_and_dataframe_agree(tmp_path):
    df = _table()
    _write_journal(tmp_path / "journal.sqlite", df)
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet")
    for src in (tmp_path / "journal.sqlite", tmp_path / "t.csv", tmp_path / "t.parquet", df):
        got = load_table(src)
        pd.testing.assert_frame_equal(got.reset_index(drop=True), df, check_dtype=False)
    assert load_table(df) is not df  # the caller's frame is never modified


def test_sqlite_is_read_only(tmp_path):
    path = tmp_path / "journal.db"
    _write_journal(path, _table())
    before = path.read_bytes()
    load_table(path)
    assert path.read_bytes() == before
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE other (x)")
        con.execute("DROP TABLE trials")
    with pytest.raises(ValueError, match="no table named 'trials'"):
        load_table(path)


def test_sweep_directory_lookup_order(tmp_path):
    (tmp_path / "0").mkdir()
    _table().to_csv(tmp_path / "0" / "trials.csv", index=False)
    assert find_table_file(tmp_path) == tmp_path / "0" / "trials.csv"
    _table().to_parquet(tmp_path / "trials.parquet")
    assert find_table_file(tmp_path) == tmp_path / "trials.parquet"
    _write_journal(tmp_path / "journal.sqlite", _table())
    assert find_table_file(tmp_path) == tmp_path / "journal.sqlite"
    assert len(load_table(tmp_path)) == 3
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no trial table"):
        find_table_file(tmp_path / "empty")


def test_epoch_adapter(epoch_csv):
    raw = pd.read_csv(epoch_csv)
    assert is_epoch_table(raw)
    t = load_table(epoch_csv)
    assert len(t) == 245
    np.testing.assert_allclose(t["metric.tokens"], raw["Training FLOP"] / (6 * raw["Model Size"]))
    assert (t["cost"] == raw["Training FLOP"]).all() and (t["output"] == raw["loss"]).all()
    assert (t["metric.params"] == raw["Model Size"]).all()
    with pytest.raises(ValueError, match="Model Size"):
        from_epoch(raw.drop(columns=["Model Size"]))


def test_bad_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_table(tmp_path / "missing.csv")
    (tmp_path / "t.txt").write_text("x")
    with pytest.raises(ValueError, match="unsupported table file"):
        load_table(tmp_path / "t.txt")
    with pytest.raises(ValueError, match="format="):
        load_table(_table(), format="json")


def test_json_params_and_metrics_columns_are_expanded():
    df = pd.DataFrame({"output": [1.0, 2.0], "cost": [1.0, 2.0],
                       "params": ['{"lr": 0.1, "width": 64}', '{"lr": 0.2}'],
                       "metrics": ['{"flops": 10.0}', None]})
    got = load_table(df)
    assert got["param.lr"].tolist() == [0.1, 0.2]
    assert got["param.width"].iloc[0] == 64 and np.isnan(got["param.width"].iloc[1])
    assert got["metric.flops"].iloc[0] == 10.0
