"""What the sweep knows about each Hydra launcher, and how it stops their workers.

A steady-state (``async``) sweep calls ``Launcher.launch`` once per trial, each call on its own
thread, with a launcher instance of its own. How each launcher takes concurrent calls (read from
the plugins' source, Hydra 1.3):

- ``basic`` (Hydra's ``BasicLauncher``) runs the task in the calling process and thread and
  changes process-wide state while it does (the working directory, the ``HydraConfig``
  singleton, the logging configuration): two calls at once would corrupt each other. It runs
  one trial at a time, on the sweep's main thread: serial, the next suggestion as soon as a
  trial ends.
- ``joblib`` (``hydra-joblib-launcher``) hands each call's jobs to loky's reusable executor,
  one pool of worker processes per process, shared by concurrent calls: async. The sweep sizes
  the pool to ``n_jobs`` (a smaller pool would queue trials; joblib's default is one worker per
  CPU). A worker that dies breaks the whole pool: every trial in flight is lost with it and
  relaunched once. With ``n_jobs=1`` joblib runs the job in the calling thread, so the sweep
  runs it as it runs ``basic``.
- ``submitit_local`` / ``submitit_slurm`` build a new executor per call and wait on their own
  job: async, one SLURM job (array of one) per trial.
- ``ray`` (``hydra-ray-launcher``) composes the job's config in the calling process, submits a
  Ray task and waits on it; Ray's client is thread-safe once ``ray.init`` ran, so the sweep runs
  ``ray.init`` (with the launcher's ``ray.init`` settings) before the first trial: async, trials
  on any node of the cluster.

A launcher this module does not know is assumed to run its jobs outside the calling process, as
every Hydra launcher plugin except ``basic`` does, and is called concurrently (logged).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("carbs.sweep")

__all__ = ["LauncherKind", "kind_of", "prepare", "quiet_launchers", "release", "stop_workers"]

# the loggers that say "launching 1 jobs" and echo the overrides on every launch call
_CHATTY = ("hydra._internal.core_plugins.basic_launcher", "hydra_plugins.hydra_joblib_launcher",
           "hydra_plugins.hydra_submitit_launcher", "hydra_plugins.hydra_ray_launcher")


@dataclass(frozen=True)
class LauncherKind:
    """How the sweep drives one launcher."""

    name: str
    inline: bool  # runs the task in the calling thread of the sweep's process: one at a time


def kind_of(launcher: Any, n_jobs: int) -> LauncherKind:
    """The :class:`LauncherKind` of a launcher instance driven with ``n_jobs`` in flight."""
    cls = type(launcher)
    module, name = cls.__module__, cls.__name__
    if name == "BasicLauncher" and module.startswith("hydra."):
        return LauncherKind("basic", inline=True)
    for known in ("joblib", "submitit", "ray"):
        if f"hydra_{known}_launcher" in module:
            label = f"{known}_{name.replace('Launcher', '').lower()}" if known == "submitit" \
                else known
            # joblib with one worker runs the job in the calling thread, as basic does
            return LauncherKind(label, inline=known == "joblib" and n_jobs == 1)
    logger.info("launcher %s.%s: assumed to run its jobs outside this process; trials are "
                "launched concurrently, one launch call each", module, name)
    return LauncherKind(name, inline=False)


def prepare(launcher: Any, kind: LauncherKind, n_jobs: int, first: bool) -> bool:
    """Set a launcher instance up for concurrent single-trial launches (see the module);
    returns whether it started something the sweep must end (:func:`release`): a Ray
    connection."""
    if kind.name == "joblib":
        pool = launcher.joblib.get("n_jobs")
        if pool != n_jobs:
            if first:
                logger.info("joblib launcher: a pool of %d worker process(es) for n_jobs=%d "
                            "trials in flight (hydra.launcher.n_jobs was %s)", n_jobs, n_jobs,
                            pool)
            launcher.joblib["n_jobs"] = n_jobs
    elif kind.name == "ray" and first:
        return _init_ray(launcher)
    return False


def release(started: bool) -> None:
    """End what :func:`prepare` started (at the sweep's end)."""
    ray = sys.modules.get("ray")
    if started and ray is not None and ray.is_initialized():
        ray.shutdown()


def _init_ray(launcher: Any) -> bool:
    """``ray.init`` as the Ray launcher would run it on its first call (its ``ray.init``
    settings, its small object store default), before trials launch concurrently."""
    import ray
    from omegaconf import OmegaConf

    if ray.is_initialized():
        return False
    init = OmegaConf.to_container(launcher.ray_cfg.init, resolve=True) or {}
    if not init.get("address"):  # a local cluster; Ray refuses the setting for an existing one
        init.setdefault("object_store_memory", 78643200)
    logger.info("ray.init(%s)", ", ".join(f"{k}={v}" for k, v in init.items()))
    ray.init(**init)
    return True


@contextlib.contextmanager
def quiet_launchers(on: bool) -> Iterator[None]:
    """With ``on``, the launchers' per-launch INFO lines are not printed (one line per finished
    trial is the sweep's own)."""
    if not on:
        yield
        return
    loggers = [logging.getLogger(name) for name in _CHATTY]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def stop_workers(starts: Iterable[Mapping[str, Any] | None], grace_s: float = 5.0) -> int:
    """Stop every worker of a stopping sweep; returns how many processes it ended.

    - every process this one started (its descendants: loky workers, submitit's local jobs, a
      local Ray cluster's processes; not the resource trackers, which end with this process):
      SIGTERM, then SIGKILL after ``grace_s``;
    - workers of trials on this host that are not its descendants (adopted from a dead sweep),
      from their start records;
    - Ray: ``ray.shutdown()``, which ends this driver's tasks on every node;
    - SLURM: ``scancel`` of the trials' jobs, from their start records.
    """
    import psutil

    me = psutil.Process()
    # resource trackers (multiprocessing's, loky's) are left to end with this process: they
    # exit when the last process holding their pipe does, and cleaning up after killed workers
    # is their job
    procs = {p.pid: p for p in me.children(recursive=True) if not _is_tracker(p)}
    slurm = []
    host = os.uname().nodename
    for start in starts:
        if not start:
            continue
        if start.get("slurm_job_id"):
            slurm.append(str(start["slurm_job_id"]))
        elif start.get("host") in (host, _hostname()) and start.get("pid") != me.pid:
            with contextlib.suppress(psutil.Error, ValueError, TypeError):
                p = psutil.Process(int(start["pid"]))
                if abs(p.create_time() - float(start.get("pid_started", p.create_time()))) < 1:
                    procs[p.pid] = p
                    procs.update({c.pid: c for c in p.children(recursive=True)})
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        with contextlib.suppress(Exception):
            ray.shutdown()
    if slurm and shutil.which("scancel"):
        subprocess.run(["scancel", *slurm], check=False, capture_output=True)
    alive = [p for p in procs.values() if p.is_running()]
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, left = psutil.wait_procs(alive, timeout=grace_s)
    for p in left:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(left, timeout=grace_s)
    return len(alive) + len(slurm)


def _is_tracker(proc: Any) -> bool:
    import psutil

    try:
        return any("resource_tracker" in part for part in proc.cmdline())
    except psutil.Error:
        return False


def _hostname() -> str:
    import socket

    return socket.gethostname()
