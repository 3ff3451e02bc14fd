"""One owner per sweep directory: an exclusive lock held for the sweep's whole life.

``<sweep dir>/.carbs/lock`` carries two things:

- a kernel lock (``fcntl.flock``). The kernel drops it when its process dies, however it dies
  (kill -9 included), so a dead sweep never blocks its resume. On NFS, Linux turns ``flock``
  into a POSIX byte-range lock that the server arbitrates (NFSv4 leases, NFSv3 lockd): it holds
  across hosts, and a crashed host's lock is released when its lease expires (about 90 s).
  On a mount without lock support (``nolock``, some FUSE file systems) locks are local to
  each host, or fail: then the second part decides;
- the owner's identity, written into the file: host, pid, the pid's start time, when the sweep
  started, and a heartbeat refreshed every ``heartbeat_s`` seconds. A second process that gets
  the kernel lock but finds an owner that is still alive (same host: its pid runs; another
  host: its heartbeat is fresh) refuses too; an owner that is dead is a stale lock, taken over
  with a log line.

A refused sweep exits non-zero with one line naming the owner (host, pid, start time).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import math
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from hydra.errors import CompactHydraException

from tays import utc_now

logger = logging.getLogger("carbs.sweep")

__all__ = ["LOCK_FILE", "SweepLock", "SweepLockedError"]

LOCK_FILE = Path(".carbs") / "lock"
_RECORD_BYTES = 1024  # the owner record is written in place, padded, in one write
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


class SweepLockedError(CompactHydraException, RuntimeError):
    """The sweep directory belongs to another live sweep."""


class SweepLock:
    """The exclusive lock of a sweep directory (a context manager).

    Args:
        sweep_dir: the sweep directory (created when missing).
        heartbeat_s: how often the owner record's heartbeat is refreshed.
        stale_after_s: an owner on another host whose heartbeat is older is taken for dead.
    """

    def __init__(self, sweep_dir: str | os.PathLike, heartbeat_s: float = 15.0,
                 stale_after_s: float = 120.0):
        self.path = Path(sweep_dir) / LOCK_FILE
        self.heartbeat_s, self.stale_after_s = heartbeat_s, stale_after_s
        self.kernel_lock = False
        self._fd: int | None = None
        self._record: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- acquiring ----------------------------------------------------------------------------
    def acquire(self) -> SweepLock:
        """Take the lock or raise :class:`SweepLockedError` naming the owner. OSError (e.g. a
        read-only directory) propagates."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.kernel_lock = True
            except BlockingIOError:
                raise SweepLockedError(self._refusal(_read(fd))) from None
            except OSError as e:
                if e.errno not in _NO_LOCKS:
                    raise
                logger.warning("%s: this file system has no file locks (%s); the sweep's "
                               "ownership rests on its owner record and heartbeat alone",
                               self.path, e.strerror)
            previous = _read(fd)
            if previous:
                if _owner_alive(previous, self.stale_after_s):
                    raise SweepLockedError(self._refusal(previous) + " (its lock is not shared "
                                           "with this process: a file system without "
                                           "cross-host locks?)")
                logger.warning("taking over the stale lock of a sweep that is gone: pid %s on "
                               "%s, started %s", previous.get("pid"), previous.get("host"),
                               previous.get("started_at"))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._record = _me()
        self._write()
        self._thread = threading.Thread(target=self._beat, name="carbs-lock", daemon=True)
        self._thread.start()
        return self

    def _refusal(self, owner: dict[str, Any] | None) -> str:
        sweep_dir = self.path.parent.parent
        who = ("another process" if not owner else f"pid {owner.get('pid')} on "
               f"{owner.get('host')}, started {owner.get('started_at')}")
        return (f"hydra.sweep.dir={sweep_dir} is in use by another sweep ({who}); wait for it "
                "to end or stop it, or start this one in another hydra.sweep.dir")

    # --- holding ------------------------------------------------------------------------------
    def _write(self) -> None:
        assert self._fd is not None
        self._record["heartbeat"] = time.time()
        data = json.dumps(self._record).encode()
        os.pwrite(self._fd, data.ljust(max(_RECORD_BYTES, len(data))), 0)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self._write()
            except OSError:
                return

    def release(self) -> None:
        """Give the lock up (the owner record is cleared; the file stays, see the module)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        with contextlib.suppress(OSError):
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> SweepLock:  # noqa: PYI034  (typing.Self needs Python 3.11)
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _me() -> dict[str, Any]:
    import psutil

    return {"host": socket.gethostname(), "pid": os.getpid(),
            "pid_started": psutil.Process().create_time(), "started_at": utc_now()}


def _read(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 64 * 1024, 0).strip(b" \x00\n")
        record = json.loads(data) if data else None
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _owner_alive(owner: dict[str, Any], stale_after_s: float) -> bool:
    """Whether the process named by an owner record still runs (see the module docstring)."""
    if owner.get("host") == socket.gethostname():
        import psutil

        try:
            proc = psutil.Process(int(owner["pid"]))
            started = owner.get("pid_started")
            return (started is None or math.isclose(proc.create_time(), float(started),
                                                     abs_tol=1.0)) \
                and proc.status() != psutil.STATUS_ZOMBIE
        except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError, ValueError):
            return False
    beat = owner.get("heartbeat")
    return isinstance(beat, (int, float)) and time.time() - beat < stale_after_s
