"""Atomic file writes: a file is written under a temporary name beside it, then renamed over
the target, so a reader (or a run killed mid-write) sees the old file or the new one, never a
half-written one."""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path"]


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
