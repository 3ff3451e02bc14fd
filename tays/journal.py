"""Reading a sweep journal's ``meta`` table, read-only, without the sweep layer.

A sweep's SQLite journal (``journal.sqlite``, written by ``carbs.sweep``) holds a ``meta``
table of JSON values: the sweep's name, its search space (``space``, see
:mod:`tays.searchspace`), objective, direction and cost key. ``scaling`` reads it to round
and clamp a recommendation to the space the sweep searched.
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

__all__ = ["read_journal_meta"]


def read_journal_meta(file: str | os.PathLike) -> dict[str, Any] | None:
    """The ``meta`` table of the SQLite journal ``file`` as ``{key: decoded JSON}`` (a value
    that is not JSON is kept as text); None when the file has no ``meta`` table. Opened
    read-only, so it is safe while the sweep runs.

    Raises:
        ValueError: naming the file when it is not a readable SQLite database.
    """
    path = Path(file)
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=5.0)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master "
                                                "WHERE type='table'")}
            if "meta" not in tables:
                return None
            rows = con.execute("SELECT key, value FROM meta").fetchall()
        finally:
            con.close()
    except sqlite3.Error as err:
        raise ValueError(f"cannot read the meta table of {path}: {err}") from err
    meta: dict[str, Any] = {}
    for key, value in rows:
        try:
            meta[key] = json.loads(value)
        except (TypeError, ValueError):
            meta[key] = value
    return meta
