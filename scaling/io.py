"""Reading trial tables: SQLite journal, CSV, Parquet, DataFrame, sweep directory, Epoch CSV.

Every reader returns a pandas DataFrame in the project's trial contract (docs/architecture.md):
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
#: Marker file of a directory written by ``scaling report`` (its files are never trial tables).
REPORT_MARKER = ".scaling-report.json"
#: Seconds to wait for a SQLite journal that a running sweep holds locked.
SQLITE_TIMEOUT_S = 5.0


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
            hits = [h for h in hits if h.is_file() and not _in_report(h, directory)]
            if hits:
                if len(hits) > 1:
                    logger.info("several %s files in %s; using %s", pattern, directory, hits[0])
                return hits[0]
    raise FileNotFoundError(
        f"no trial table found in sweep directory {directory}: expected a SQLite journal "
        f"(journal.sqlite / *.db with a 'trials' table), a Parquet or a CSV file; "
        f"pass the file path directly.")


def _in_report(path: Path, root: Path) -> bool:
    """True for files inside a report directory (marker file, or an older report's
    ``summary.json`` beside ``summary.csv``) below ``root``: never read them as trial tables."""
    for folder in path.parents:
        if (folder / REPORT_MARKER).exists() or (
                path.name == "summary.csv" and folder == path.parent
                and (folder / "summary.json").exists()):
            return True
        if folder == root:
            return False
    return False


def _read_sqlite(path: Path) -> pd.DataFrame:
    uri = f"file:{path.resolve()}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_S)
        try:
            tables = {r[0] for r in
                      con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "trials" not in tables:
                raise ValueError(f"SQLite file {path} has no table named 'trials' (found "
                                 f"{sorted(tables)}); point SRC at a sweep journal.")
            return pd.read_sql("SELECT * FROM trials", con)
        finally:
            con.close()
    except sqlite3.OperationalError as err:
        if "locked" in str(err) or "busy" in str(err):
            raise ValueError(f"SQLite journal {path} is locked by another process (waited "
                             f"{SQLITE_TIMEOUT_S:g} s): retry when the sweep has written its "
                             f"row, or export it first (python -m carbs export).") from err
        raise ValueError(f"cannot read SQLite journal {path}: {err}") from err
    except sqlite3.DatabaseError as err:
        raise ValueError(f"{path} is not a readable SQLite journal ({err}): the file is "
                         f"corrupt or not a database; point SRC at the sweep's journal or an "
                         f"exported CSV / Parquet table.") from err


def _read_csv(path: Path) -> pd.DataFrame:
    with open(path, "rb") as f:
        head = f.read(8192)
    if b"\x00" in head:
        raise ValueError(f"{path} is not a text CSV file (it holds binary data); pass the "
                         f"sweep's CSV export, a .parquet file or the SQLite journal.")
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError as err:
        raise ValueError(f"{path} is empty (no header row): export the sweep's trials into "
                         f"it, or pass the sweep directory / journal.") from err
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a readable CSV file ({err}); pass a comma-separated "
                         f"UTF-8 table with a header row (output, cost, param.*, ...).") from err


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise ValueError(f"{path} is not a readable Parquet file ({err}); re-export the "
                         f"table or pass the CSV / journal instead.") from err


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
            df = _read_csv(path)
        elif suffix in (".parquet", ".pq"):
            df = _read_parquet(path)
        else:
            raise ValueError(f"unsupported table file {path}: use .sqlite/.db (journal), "
                             f".csv or .parquet.")
    name = "the DataFrame" if isinstance(src, pd.DataFrame) else str(path)
    if format == "epoch" or (format == "auto" and is_epoch_table(df) and "output" not in df):
        try:
            out = from_epoch(df)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from err
        out.attrs["format"] = "epoch"
        out.attrs["source"] = name
        return out
    df = _coerce_numeric(df, name)
    df.attrs["source"] = name
    return df


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


def _coerce_numeric(df: pd.DataFrame, name: str = "the table") -> pd.DataFrame:
    """Make number columns numeric; values that are not numbers become NaN, and how many (with
    examples) is logged and kept in ``df.attrs["non_numeric"]`` (column -> (count, examples))."""
    df = _expand_json_columns(df)
    non_numeric: dict[str, tuple[int, list[str]]] = {}
    converted: dict[str, pd.Series] = {}
    for col, dtype in zip(df.columns, df.dtypes):
        if pd.api.types.is_numeric_dtype(dtype):
            continue
        if col in ("output", "cost") or col.startswith("metric."):
            conv = pd.to_numeric(df[col], errors="coerce")
            lost = df[col].notna() & conv.isna()
            if lost.any():
                examples = list(dict.fromkeys(str(v) for v in df[col][lost]))[:3]
                non_numeric[col] = (int(lost.sum()), examples)
            converted[col] = conv
        elif col.startswith("param."):
            conv = pd.to_numeric(df[col], errors="coerce")
            if conv.notna().sum() == df[col].notna().sum():  # keep categoricals as they are
                converted[col] = conv
    if converted:
        df = df.assign(**converted)
    for col, (count, examples) in non_numeric.items():
        logger.warning("%s: column %r has %d of %d value(s) that are not numbers (e.g. %s); "
                       "they are read as missing, so those rows are left out of the fits",
                       name, col, count, len(df), ", ".join(repr(e) for e in examples))
    df.attrs["non_numeric"] = non_numeric
    return df


def describe_unusable(df: pd.DataFrame, columns: list[str]) -> tuple[int, str]:
    """How many rows :func:`ok_rows` keeps, and why the others are left out (one line).

    Example: ``(15, "25 of 40 rows left out: 25 with a non-numeric 'output' (e.g. 'oops',
    'n/a')")``.
    """
    total = len(df)
    keep = np.ones(total, dtype=bool)
    reasons = []
    if "status" in df.columns:
        status = df["status"].astype(str).to_numpy()
        bad = status != "ok"
        if bad.any():
            counts = pd.Series(status[bad]).value_counts()
            reasons.append(f"{int(bad.sum())} with status != 'ok' ("
                           + ", ".join(f"{k}: {v}" for k, v in counts.items()) + ")")
        keep &= ~bad
    non_numeric = df.attrs.get("non_numeric", {})
    for col in columns:
        if col not in df.columns:
            continue
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) & keep
        if bad.any():
            if col in non_numeric:
                count, examples = non_numeric[col]
                reasons.append(f"{int(bad.sum())} with a missing, infinite or non-numeric "
                               f"{col!r} ({count} not numbers, e.g. "
                               + ", ".join(repr(e) for e in examples) + ")")
            else:
                reasons.append(f"{int(bad.sum())} with a missing or infinite {col!r}")
        keep &= ~bad
    n_ok = int(keep.sum())
    if n_ok == total:
        return n_ok, f"all {total} rows usable"
    return n_ok, f"{total - n_ok} of {total} rows left out: " + "; ".join(reasons)


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
