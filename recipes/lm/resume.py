"""Resuming a killed run: checkpoint repair before ``train.autoresume``, on rank 0 only.

A run killed while it wrote a checkpoint leaves a truncated or half-written file, or a complete
newer checkpoint that ``latest-rank0.pt`` does not point at yet. :func:`repair_autoresume` points
the link at the newest intact checkpoint before the Trainer is built, and :func:`build_resuming`
falls back to the previous one when Composer cannot load the latest after all. With several
processes, rank 0 alone renames and relinks (every rank would otherwise rename and unlink the
same files, and the losers crash) while the others wait for it (:func:`fence`).
"""
from __future__ import annotations

import logging
import pickle
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from recipes.lm.config import LMConfig

__all__ = ["build_resuming", "fence", "repair_autoresume", "start_process_group"]

log = logging.getLogger("recipes.lm.training")  # the recipe's log, where users look for it

_CHECKPOINT_NAME = re.compile(r"ep(\d+)-ba(\d+)-rank0\.pt$")
_LATEST = "latest-rank0.pt"
_LOAD_ERRORS = ("PytorchStreamReader", "inline_container", "failed reading zip",
                "failed locating file", "Ran out of input")
T = TypeVar("T")


def _rank() -> int:
    from composer.utils import dist

    return dist.get_global_rank()


def start_process_group(device: str) -> None:
    """Start the distributed process group now (``composer -n N`` runs only), so the ranks can
    wait for rank 0's repair before any of them builds its Trainer (which would start the group
    itself, with the same backend and timeout)."""
    from composer.utils import dist

    if dist.get_world_size() > 1:
        dist.initialize_dist(device, timeout=300.0)


def fence() -> None:
    """Every rank waits here until all have arrived (nothing in a single process)."""
    import torch.distributed
    from composer.utils import dist

    if dist.get_world_size() > 1 and torch.distributed.is_initialized():
        dist.barrier()


def _damage(path: Path) -> str | None:
    """Why the checkpoint file at ``path`` cannot be loaded (truncated, corrupt, missing), or
    None when it looks intact: a torch checkpoint is a zip archive, so its central directory,
    every member's CRC and the pickle record are checked without unpickling anything. (A write
    interrupted after the directory was flushed can still lack tensor records: that shows only
    when Composer loads it, and :func:`build_resuming` falls back then.)"""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if bad is not None:
        return f"member {bad} fails its CRC check"
    if not any(name.endswith("/data.pkl") or name == "data.pkl" for name in names):
        return "no data.pkl record (the write was interrupted)"
    return None


def checkpoint_folder(t) -> Path | None:
    """The local folder of ``train.save_folder`` (None: no checkpoints, or a remote folder,
    which Composer downloads and checks itself)."""
    if not t.save_folder or "://" in t.save_folder:
        return None
    from composer.utils import format_name_with_dist

    return Path(format_name_with_dist(t.save_folder, t.run_name))


def repair_autoresume(cfg: LMConfig, quiet: bool = False) -> Path | None:
    """Before an autoresume, make ``latest-rank0.pt`` point at the newest intact checkpoint of
    ``train.save_folder``, and log it (naming both paths) when that is not where it pointed.

    Two faults of a killed run are repaired: a latest checkpoint left truncated or corrupt (the
    run falls back to the previous intact one), and a checkpoint written completely just
    before the kill, before Composer moved the link to it (the run resumes from it: Composer
    would otherwise refuse the "conflicting" newer file). Damaged files are renamed
    ``*.corrupt`` so later saves do not collide with them.

    Returns the checkpoint the run will resume from (None: nothing to resume). Only rank 0
    repairs (it owns the non-sharded checkpoint files; the other ranks return None at once and
    wait in :func:`fence`); sharded checkpoints are left to Composer. ``quiet``: the caller
    logs the change itself.
    """
    t = cfg.train
    folder = checkpoint_folder(t)
    if not t.autoresume or folder is None or not folder.is_dir() or _rank() != 0:
        return None
    latest = folder / _LATEST
    linked = latest.resolve() if latest.is_symlink() or latest.exists() else None
    if linked is not None and linked.is_dir():
        return linked
    files = sorted((p for p in folder.iterdir() if _CHECKPOINT_NAME.match(p.name)),
                   key=lambda p: int(_CHECKPOINT_NAME.match(p.name).group(2)), reverse=True)
    good, damaged = None, []
    for path in files:
        why = _damage(path)
        if why is None:
            good = path
            break
        damaged.append((path, why))
    for path, _ in damaged:
        path.rename(path.with_name(path.name + ".corrupt"))
    if good is not None and linked is not None and good.resolve() == linked:
        return good
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    reasons = {p.resolve(): why for p, why in damaged}
    if good is None:
        if damaged:
            log.warning("checkpoint %s is damaged (%s) and %s holds no intact earlier "
                        "checkpoint: the run starts over (damaged files kept as *.corrupt)",
                        damaged[0][0], damaged[0][1], folder)
        return None
    latest.symlink_to(good.name)
    if quiet:
        pass
    elif linked in reasons:
        log.warning("checkpoint %s is damaged (%s); resuming from the previous intact "
                    "checkpoint %s (damaged files kept as *.corrupt)", linked, reasons[linked],
                    good)
    else:
        log.warning("%s pointed at %s, but %s is newer and intact (the run was stopped before "
                    "it moved the link): resuming from %s", latest, linked, good, good)
    return good


def _is_checkpoint_damage(exc: BaseException) -> bool:
    """An error of loading a checkpoint whose archive looks whole but is not (a write
    interrupted after the zip directory was flushed, missing records)."""
    text = f"{type(exc).__name__}: {exc}"
    return isinstance(exc, (EOFError, pickle.UnpicklingError, zipfile.BadZipFile)) or any(
        marker in text for marker in _LOAD_ERRORS)


def _set_aside_latest(cfg: LMConfig, exc: BaseException) -> bool:
    """Rank 0: rename the checkpoint ``latest-rank0.pt`` points at to ``*.corrupt`` and relink
    to the previous intact one. False when there is no such link (nothing to fall back on)."""
    folder = checkpoint_folder(cfg.train)
    latest = folder / _LATEST if folder is not None else None
    if latest is None or not latest.is_symlink():
        return False
    bad = latest.resolve()
    if bad.exists():
        bad.rename(bad.with_name(bad.name + ".corrupt"))
    latest.unlink()
    good = repair_autoresume(cfg, quiet=True)
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    log.warning("checkpoint %s could not be loaded (%s: %s); resuming from the previous "
                "intact checkpoint %s (the damaged file is kept as *.corrupt)", bad,
                type(exc).__name__, first_line,
                good if good is not None else "- none left, the run starts over")
    return True


def build_resuming(cfg: LMConfig, build: Callable[[], T]) -> T:
    """``build()`` (the Trainer); when an autoresume fails to load the latest checkpoint, set it
    aside (``*.corrupt``) and retry from the previous intact one (logging both paths).

    Every rank loads the same non-sharded checkpoint, so every rank fails on the same damaged
    file: rank 0 alone sets it aside and tells the others (a broadcast, which also makes them
    wait for the new link) whether to retry or to give up with the error."""
    from composer.utils import dist

    while True:
        try:
            return build()
        except Exception as exc:
            if not (cfg.train.autoresume and checkpoint_folder(cfg.train) is not None
                    and _is_checkpoint_damage(exc)):
                raise
            retry: list[Any] = [_set_aside_latest(cfg, exc) if _rank() == 0 else None]
            if dist.get_world_size() > 1:
                dist.broadcast_object_list(retry, src=0)
            if not retry[0]:
                raise
