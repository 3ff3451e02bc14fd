"""The sweep journal: one SQLite file (WAL mode) in the sweep directory, one row per trial.

The journal is the one writer of trial rows in a sweep. Rows follow the trial contract of the
project (``trial_id, sweep, status, output, cost, param.<name>, metric.<name>, error,
started_at, finished_at, suggestion``) plus bookkeeping columns (``attempt``, ``job_num``,
``job_dir``); ``scaling.load_table`` reads the ``trials`` table directly. A trial is written
``running`` before it is launched and finished in one transaction, so a killed sweep leaves
every finished trial intact and every unfinished one ``running`` (see :mod:`carbs.sweep.sweeper` for
how a resumed sweep treats them).

A ``meta`` table holds the sweep's identity (name, search space, objective, direction, cost
key, schema version): a resumed sweep must match it, so one journal never mixes two sweeps.

    from carbs import load_trials
    df = load_trials("multirun/lm_tiny/2026-11-28_12-00-00")   # directory or journal file
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from carbs.state import utc_now
from tays import jsonable

logger = logging.getLogger("carbs")

__all__ = ["JOURNAL_FILE", "Journal", "JournalError", "find_journal", "load_trials"]

JOURNAL_FILE = "journal.sqlite"
JOURNAL_SCHEMA_VERSION = 1
_STATUSES = ("running", "ok", "failed")
_CORE = ["trial_id", "sweep", "status", "output", "cost", "error", "started_at", "finished_at",
         "suggestion", "attempt", "job_num", "job_dir", "worker", "node"]
#: The note a stopped sweep leaves on a trial it stopped (still ``running``: relaunched on resume).
STOPPED = "stopped:"


class JournalError(ValueError):
    """A journal that cannot be used as asked (missing, corrupt, or for another sweep)."""


def _q(name: str) -> str:
    """A quoted SQL identifier (column names hold dots: ``param.train.lr``)."""
    return '"' + name.replace('"', '""') + '"'


def _sql_value(v: Any) -> Any:
    """A value SQLite stores faithfully: non-finite floats become NULL, others stay as they are
    (bools as 0/1; :func:`load_trials` turns them back using the search space)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy scalars
        v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
    return v


class Journal:
    """A sweep's SQLite journal. Open with :meth:`create` (new sweep) or :meth:`open` (resume,
    export). One process writes (the sweeper); any number may read.

    Args:
        path: the journal file.
        connection: an open connection (use :meth:`create` / :meth:`open`).
    """

    def __init__(self, path: Path, connection: sqlite3.Connection):
        self.path = Path(path)
        self._con = connection
        self._columns = self._table_columns()

    # --- opening ----------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, meta: Mapping[str, Any],
               param_names: Sequence[str]) -> Journal:
        """A new journal at ``path`` (which must not exist) for the sweep described by ``meta``
        (JSON-safe; must hold ``sweep``), with one ``param.<name>`` column per parameter."""
        path = Path(path)
        if path.exists():
            raise JournalError(f"{path}: a journal already exists; resume it instead of "
                               "creating a new one")
        if "sweep" not in meta:
            raise ValueError("journal meta must name the sweep ('sweep')")
        path.parent.mkdir(parents=True, exist_ok=True)
        con = _connect(path)
        try:
            with con:
                con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                cols = ", ".join(
                    ["trial_id TEXT PRIMARY KEY", "sweep TEXT NOT NULL",
                     "status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed'))",
                     "output REAL", "cost REAL", "error TEXT", "started_at TEXT",
                     "finished_at TEXT", "suggestion TEXT", "attempt INTEGER NOT NULL DEFAULT 0",
                     "job_num INTEGER", "job_dir TEXT", "worker TEXT", "node TEXT"]
                    + [_q(f"param.{n}") for n in param_names])
                con.execute(f"CREATE TABLE trials ({cols})")
                rows = [("schema_version", json.dumps(JOURNAL_SCHEMA_VERSION)),
                        ("created_at", json.dumps(utc_now())),
                        ("sweep_uid", json.dumps(uuid.uuid4().hex))]
                rows += [(k, json.dumps(v, allow_nan=False)) for k, v in meta.items()]
                con.executemany("INSERT INTO meta VALUES (?, ?)", rows)
        except BaseException:
            con.close()
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            raise
        logger.info("journal created: %s", path)
        return cls(path, con)

    @classmethod
    def open(cls, path: str | os.PathLike, read_only: bool = False) -> Journal:
        """An existing journal (a file or a sweep directory holding ``journal.sqlite``)."""
        path = find_journal(path)
        try:
            if read_only:
                con = _connect_for_reading(path)
            else:
                con = _connect(path)
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as e:
            raise JournalError(f"{path}: not a readable SQLite journal ({e})") from None
        if not {"meta", "trials"} <= tables:
            con.close()
            raise JournalError(f"{path}: not a CARBS sweep journal (tables 'meta' and 'trials' "
                               f"expected, found {sorted(tables)})")
        journal = cls(path, con)
        version = journal.meta.get("schema_version")
        if version != JOURNAL_SCHEMA_VERSION:
            con.close()
            raise JournalError(f"{path}: journal schema_version {version!r} is not supported "
                               f"(this carbs reads version {JOURNAL_SCHEMA_VERSION})")
        return journal

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed into the main file)."""
        self._con.close()

    def __enter__(self) -> Journal:  # noqa: PYI034  (typing.Self needs Python 3.11)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ----------------------------------------------------------------------------
    @property
    def meta(self) -> dict[str, Any]:
        """The sweep's identity and settings as written at creation."""
        return {k: json.loads(v) for k, v in self._con.execute("SELECT key, value FROM meta")}

    def _table_columns(self) -> list[str]:
        return [r[1] for r in self._con.execute("PRAGMA table_info(trials)")]

    @property
    def param_columns(self) -> list[str]:
        """The ``param.<name>`` columns, in search-space order."""
        return [c for c in self._columns if c.startswith("param.")]

    def rows(self, status: str | None = None) -> list[dict[str, Any]]:
        """Trial rows as dicts, in the order they were created (optionally one status only)."""
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        cur = self._con.execute(f"SELECT * FROM trials {where} ORDER BY rowid", args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def max_job_num(self) -> int:
        """The largest job number used so far (-1 for none)."""
        v = self._con.execute("SELECT MAX(job_num) FROM trials").fetchone()[0]
        return -1 if v is None else int(v)

    def to_dataframe(self) -> pd.DataFrame:
        """All trials in the trial contract (``param.*`` values in param space)."""
        return _frame(self.rows(), self._columns, self.meta)

    @property
    def sweep_uid(self) -> str:
        """This sweep's unique id (every worker record names it); journals written before it
        existed get one on first use."""
        uid = self.meta.get("sweep_uid")
        if not uid:
            uid = uuid.uuid4().hex
            with self._tx() as con:
                con.execute("INSERT OR REPLACE INTO meta VALUES ('sweep_uid', ?)",
                            (json.dumps(uid),))
        return str(uid)

    # --- writing ----------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._con:  # one transaction: committed on success, rolled back on error
            yield self._con

    def add_running(self, trial_id: str, params: Mapping[str, Any],
                    suggestion: Mapping[str, Any] | None = None) -> None:
        """Write a new trial as ``running`` (before it is launched; see :meth:`launch`)."""
        row = {"trial_id": trial_id, "sweep": self.meta["sweep"], "status": "running",
               "started_at": utc_now(), "attempt": 0,
               "suggestion": json.dumps(jsonable(suggestion), allow_nan=False) if suggestion
               else None}
        row.update({f"param.{k}": _sql_value(v) for k, v in params.items()})
        unknown = [k for k in row if k not in self._columns]
        if unknown:
            raise JournalError(f"{self.path}: unknown column(s) {unknown}; the journal's "
                               f"parameters are {self.param_columns}")
        cols = ", ".join(_q(k) for k in row)
        marks = ", ".join("?" for _ in row)
        with self._tx() as con:
            con.execute(f"INSERT INTO trials ({cols}) VALUES ({marks})", list(row.values()))

    def launch(self, trial_id: str, job_num: int) -> None:
        """A ``running`` trial is handed to the launcher as job ``job_num`` (``attempt`` counts
        the launches: a trial left running by a dead sweep and relaunched has attempt 2)."""
        with self._tx() as con:
            cur = con.execute("UPDATE trials SET attempt = attempt + 1, job_num = ?, "
                              "started_at = ? WHERE trial_id = ? AND status = 'running'",
                              (job_num, utc_now(), trial_id))
            if cur.rowcount != 1:
                raise JournalError(f"{self.path}: trial {trial_id!r} is not running")

    def mark_stopped(self, trial_id: str, why: str) -> None:
        """Note on a ``running`` trial that a stopping sweep stopped it (it stays ``running``:
        a resumed sweep relaunches it)."""
        with self._tx() as con:
            con.execute("UPDATE trials SET error = ? WHERE trial_id = ? AND status = 'running'",
                        (f"{STOPPED} {why}", trial_id))

    def finish(self, trial_id: str, status: str, output: float, cost: float,
               metrics: Mapping[str, Any] | None = None, error: str | None = None,
               job_dir: str | None = None, finished_at: str | None = None,
               worker: str | None = None, node: str | None = None) -> None:
        """Finish a ``running`` trial in one transaction: status, objective, cost, metrics
        (new ``metric.<name>`` columns are added as they appear), the error text, and where it
        ran (``worker``: host:pid; ``node``: its Ray node, SLURM node or host)."""
        if status not in ("ok", "failed"):
            raise ValueError(f"status must be 'ok' or 'failed', got {status!r}")
        row: dict[str, Any] = {"status": status, "output": _sql_value(float(output)),
                               "cost": _sql_value(float(cost)), "error": error,
                               "finished_at": finished_at or utc_now()}
        for key, value in (("job_dir", job_dir), ("worker", worker), ("node", node)):
            if value is not None:
                row[key] = value
        for k, v in (metrics or {}).items():
            name = k if k.startswith("metric.") else f"metric.{k}"
            row[name] = _sql_value(v)
        with self._tx() as con:
            for name in row:
                if name not in self._columns:
                    con.execute(f"ALTER TABLE trials ADD COLUMN {_q(name)}")
                    self._columns.append(name)
            sets = ", ".join(f"{_q(k)} = ?" for k in row)
            cur = con.execute(f"UPDATE trials SET {sets} WHERE trial_id = ? AND status = "
                              "'running'", [*row.values(), trial_id])
            if cur.rowcount != 1:
                raise JournalError(f"{self.path}: trial {trial_id!r} is not running (finished "
                                   "twice?)")


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
    return con


def _connect_for_reading(path: Path) -> sqlite3.Connection:
    """A connection that only reads. Read-write when the folder allows it, so that closing the
    last connection folds the WAL back into the file and removes -wal/-shm (a read-only
    connection cannot); strictly read-only otherwise (a sweep on read-only storage)."""
    uri = "file:" + urllib.parse.quote(str(path.absolute()))
    if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        return sqlite3.connect(f"{uri}?mode=rw", uri=True, timeout=30.0, check_same_thread=False)
    return sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)


def find_journal(path: str | os.PathLike) -> Path:
    """The journal file of ``path``: the file itself, or ``<dir>/journal.sqlite``."""
    p = Path(path)
    if p.is_dir():
        p = p / JOURNAL_FILE
    if not p.is_file():
        raise JournalError(f"{path}: no sweep journal found (expected a {JOURNAL_FILE} file or a "
                           "sweep directory holding one)")
    return p


def _frame(rows: list[dict[str, Any]], columns: list[str], meta: Mapping[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for col in df.columns:  # NULL-only columns would otherwise come back as object dtype
        if col in ("output", "cost") or col.startswith("metric."):
            df[col] = pd.to_numeric(df[col]).astype(float)
    # categorical bools come back from SQLite as 0/1: restore them from the search space
    for name, spec in (meta.get("space") or {}).items():
        col = f"param.{name}"
        choices = spec.get("choices") if isinstance(spec, dict) else None
        if col in df and choices and all(isinstance(c, bool) for c in choices):
            df[col] = df[col].map(lambda v: None if v is None or pd.isna(v) else bool(v))
    front = [c for c in _CORE if c in df.columns]
    params = [c for c in df.columns if c.startswith("param.")]
    metrics = sorted(c for c in df.columns if c.startswith("metric."))
    rest = [c for c in df.columns if c not in front + params + metrics]
    return df[front[:5] + params + metrics + front[5:] + rest]


def load_trials(path: str | os.PathLike) -> pd.DataFrame:
    """A sweep's trials as a DataFrame in the trial contract, from a sweep directory or its
    journal file (read-only; safe while the sweep runs)."""
    with Journal.open(path, read_only=True) as journal:
        return journal.to_dataframe()
