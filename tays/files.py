"""Atomic file writes and the project's timestamps.

A file is written under a temporary name beside its target, then renamed over it
(``os.replace``), so a reader, or a process killed mid-write, sees the old file or the new one,
never half of one: the optimiser's state, a worker's trial record, a tokenizer model, a PPO
checkpoint, a recommendation.
"""

from __future__ import annotations

import datetime as _dt
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text", "utc_now"]


def utc_now() -> str:
    """The current UTC time, ISO-8601 with seconds (the journal's and records' timestamps)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; when the block ends normally it
    replaces ``path`` (``os.replace``), otherwise it is removed.

    The temporary name is unique per process and call, so processes racing to write the same
    file (e.g. every rank writing one tokenizer) do not collide; it does not exist yet, so the
    writer creates it with the usual permissions. The folder must exist.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_path`), flushed to disk (fsync)
    before the rename; the folder is created when missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
