"""The report's output directory: checked before any fit runs, written whole or not at all.

A report is built in a staging directory beside ``out`` (``.<name>.tmp-<pid>-<hex>``) and
swapped in with two renames (the previous report to a hidden ``.old`` name, the staging
directory to ``out``), so a rerun never mixes new files with stale ones, and a report that
fails or is killed leaves the previous one as it was. ``out`` therefore belongs to the report:
an existing directory is replaced only when it is empty or holds an earlier report.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scaling.io import REPORT_MARKER

logger = logging.getLogger(__name__)

#: File names a report writes (anything else in ``out`` is somebody else's).
_REPORT_FILES = ("summary.json", "summary.md", "summary.csv", REPORT_MARKER)


def writable(path: Path) -> bool:
    """Writable for us, and not marked read-only (no write bit: root ignores the bits)."""
    try:
        return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)
    except OSError:
        return False


def _is_report_file(name: str) -> bool:
    return name in _REPORT_FILES or name.endswith(".png")


def check_out_dir(out: Path) -> None:
    """Raise a ValueError naming ``out`` and the fix when the report cannot own it.

    ``out`` must be a new directory (its nearest existing parent writable), an empty one, or
    one holding only an earlier report's files; and it must be writable.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a directory for the report (it is "
                         f"created if missing).")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not writable(parent):
        raise ValueError(f"--out {out}: cannot write in {parent} (read-only or not a "
                         f"directory); choose a writable --out.")
    if not out.exists():
        return
    if not writable(out):
        raise ValueError(f"--out {out} is read-only; make it writable or choose another --out.")
    foreign = sorted(p.name for p in out.iterdir() if not _is_report_file(p.name))
    if foreign:
        raise ValueError(f"--out {out} holds files that are not a scaling report (e.g. "
                         f"{foreign[:3]}); the report replaces its directory as a whole, so "
                         f"give a new or empty directory, or an earlier report's.")


def _remove_stale(parent: Path, name: str) -> None:
    """Staging / old directories left by killed reports (their process is gone)."""
    for path in parent.glob(f".{glob.escape(name)}.*-*-*"):
        try:
            pid = int(path.name.rsplit("-", 2)[-2])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


@contextmanager
def staged_report_dir(out: Path, source: str) -> Iterator[Path]:
    """Yield a staging directory to write the report into; on success swap it in as ``out``.

    On an exception the staging directory is removed and ``out`` is left untouched.
    """
    check_out_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out.parent, out.name)
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    staging = out.parent / f".{out.name}.tmp-{tag}"
    try:
        staging.mkdir()
    except OSError as err:
        raise ValueError(f"--out {out}: cannot create a directory in {out.parent} "
                         f"({err.strerror}); choose a writable --out.") from err
    try:
        yield staging
        files = sorted(p.name for p in staging.iterdir())
        (staging / REPORT_MARKER).write_text(json.dumps({"source": source, "files": files},
                                                        indent=2))
        old = out.parent / f".{out.name}.old-{tag}"
        if out.exists():
            os.rename(out, old)
        os.rename(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
