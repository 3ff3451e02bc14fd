"""Reading trial tables: SQLite journal, CSV, Parquet, DataFrame, sweep directory, Epoch CSV.

Every reader returns a pandas DataFrame in the project's trial contract (see ARCHITECTURE.md):
``output``, ``cost``, ``param.<name>``, ``metric.<name>``, optional ``status`` ... A journal
that keeps hyperparameters / metrics as JSON objects in ``params`` / ``metrics`` columns is
expanded into ``param.<name>`` / ``metric.<name>`` columns.

Sweep-directory lookup order (first match wins; top level first, then sub-folders, sorted):
``journal.sqlite``, ``journal.db``, ``*.sqlite``, ``*.sqlite3``, ``*.db``, ``trials.parquet``,
``*.parquet``, ``trials.csv``, ``*.csv``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

TableSource = str | Path | pd.DataFrame
TableFormat = Literal["auto", "contract", "epoch"]

EPOCH_COLUMNS = ("Model Size", "Training FLOP", "loss")
_SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
_DIR_PATTERNS = ("journal.sqlite", "journal.db", "*.sqlite", "*.sqlite3", "*.db",
                 "trials.parquet", "*.parquet", "trials.csv", "*.csv")


def is_epoch_table(df: pd.DataFrame) -> bool:
    """True when ``df`` has the Epoch Chinchilla columns (``Model Size``, ``Training FLOP``, ``loss``)."""
    return all(c in df.columns for c in EPOCH_COLUMNS)


def from_epoch(df: pd.DataFrame) -> pd.DataFrame:
    """Convert Epoch AI's Chinchilla table into the trial contract.

    ``metric.params`` = N (``Model Size``), ``metric.flops`` = C (``Training FLOP``),
    ``metric.tokens`` = C / (6 N), ``output`` = ``loss``, ``cost`` = C, ``status`` = ``ok``.
    """
    missing = [c for c in EPOCH_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"Epoch table is missing column(s) {missing}; expected columns "
                         f"{list(EPOCH_COLUMNS)} (as in Epoch AI's svg_extracted_data.csv).")
    n = df["Model Size"].to_numpy(dtype=float)
    c = df["Training FLOP"].to_numpy(dtype=float)
    out = pd.DataFrame({
        "trial_id": [f"epoch-{i}" for i in range(len(df))],
        "sweep": "chinchilla_epoch",
        "status": "ok",
        "output": df["loss"].to_numpy(dtype=float),
        "cost": c,
        "metric.params": n,
        "metric.flops": c,
        "metric.tokens": c / (6.0 * n),
    })
    return out


def find_table_file(directory: str | Path) -> Path:
    """Find the trial table inside a sweep directory (lookup order in the module docstring)."""
    directory = Path(directory)
    for recursive in (False, True):
        for pattern in _DIR_PATTERNS:
            hits = sorted(directory.rglob(pattern) if recursive else directory.glob(pattern))
            hits = [h for h in hits if h.is_file()]
            if hits:
                if len(hits) > 1:
                    logger.info("several %s files in %s; using %s", pattern, directory, hits[0])
                return hits[0]
    raise FileNotFoundError(
        f"no trial table found in sweep directory {directory}: expected a SQLite journal "
        f"(journal.sqlite / *.db with a 'trials' table), a Parquet or a CSV file; "
        f"pass the file path directly.")


def _read_sqlite(path: Path) -> pd.DataFrame:
    uri = f"file:{path.resolve()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "trials" not in tables:
            raise ValueError(f"SQLite file {path} has no table named 'trials' (found "
                             f"{sorted(tables)}); point SRC at a sweep journal.")
        return pd.read_sql("SELECT * FROM trials", con)


def load_table(src: TableSource, format: TableFormat = "auto") -> pd.DataFrame:
    """Load a trial table from a DataFrame, a SQLite journal, a CSV / Parquet file or a sweep dir.

    ``format``: ``"auto"`` converts Epoch-style tables (see :func:`from_epoch`; the result has
    ``attrs["format"] == "epoch"``) and leaves contract tables as they are; ``"epoch"`` forces
    the conversion; ``"contract"`` never converts.
    Numeric-looking ``param.*`` / ``metric.*`` / ``output`` / ``cost`` columns are made numeric.
    """
    if format not in ("auto", "contract", "epoch"):
        raise ValueError(f"format={format!r}: use 'auto', 'contract' or 'epoch'.")
    if isinstance(src, pd.DataFrame):
        df = src.copy()
    else:
        path = Path(src)
        if not path.exists():
            raise FileNotFoundError(f"table source {path} does not exist; pass a journal, "
                                    f"CSV, Parquet file or sweep directory.")
        if path.is_dir():
            path = find_table_file(path)
            logger.info("reading trial table %s", path)
        suffix = path.suffix.lower()
        if suffix in _SQLITE_SUFFIXES:
            df = _read_sqlite(path)
        elif suffix == ".csv":
            df = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            raise ValueError(f"unsupported table file {path}: use .sqlite/.db (journal), "
                             f".csv or .parquet.")
    if format == "epoch" or (format == "auto" and is_epoch_table(df) and "output" not in df):
        out = from_epoch(df)
        out.attrs["format"] = "epoch"
        return out
    return _coerce_numeric(df)


def _expand_json_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Journals that store ``params`` / ``metrics`` as JSON objects get ``param.<k>`` /
    ``metric.<k>`` columns (existing columns win)."""
    for col, prefix in (("params", "param."), ("metrics", "metric.")):
        if col not in df.columns or pd.api.types.is_numeric_dtype(df[col]):
            continue
        parsed = [json.loads(v) if isinstance(v, str) and v.strip().startswith("{") else {}
                  for v in df[col]]
        keys = sorted({k for d in parsed for k in d})
        for k in keys:
            if prefix + k not in df.columns:
                df[prefix + k] = [d.get(k, np.nan) for d in parsed]
    return df


def _coerce_numeric(df: pd.DataFrame) -> pd.DataFrame:
    df = _expand_json_columns(df)
    for col in df.columns:
        if col in ("output", "cost") or col.startswith("metric."):
            df[col] = pd.to_numeric(df[col], errors="coerce")
        elif col.startswith("param.") and not pd.api.types.is_numeric_dtype(df[col]):
            conv = pd.to_numeric(df[col], errors="coerce")
            if conv.notna().sum() == df[col].notna().sum():  # keep categoricals as they are
                df[col] = conv
    return df


def require_columns(df: pd.DataFrame, columns: list[str], purpose: str) -> None:
    """Raise a ValueError naming every missing column and what provides it."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"table is missing column(s) {missing} needed for {purpose}; found columns "
            f"{list(df.columns)[:20]}. Export the sweep in the trial contract (output, cost, "
            f"param.<name>, metric.<name>) or choose another column (e.g. --cost-column).")


def ok_rows(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Rows with ``status == 'ok'`` (when a status column exists) and finite ``columns``."""
    mask = np.ones(len(df), dtype=bool)
    if "status" in df.columns:
        mask &= (df["status"].astype(str) == "ok").to_numpy()
    for c in columns:
        mask &= np.isfinite(pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float))
    return df.loc[mask]
