"""Checkpoints: ``torch.save`` of state_dicts plus a JSON meta file, one pair per game.

Layout: ``<checkpoint_dir>/<game>/state.pt`` and ``<checkpoint_dir>/<game>/meta.json``. Loading
uses ``torch.load(weights_only=True)``, so a checkpoint cannot execute code. Both files are written
to a temporary name and renamed, so a run killed mid-save keeps its previous checkpoint.
"""
from __future__ import annotations

import json
import logging
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from recipes.ppo.config import PPOConfig
from tays import atomic_path

__all__ = ["SCHEMA_VERSION", "check_resumable", "checkpoint_files", "load_checkpoint",
           "save_checkpoint"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

# Fields that may change between a run and its resumption without changing what is trained.
_RESUME_FREE = {
    "total_timesteps", "checkpoint_dir", "checkpoint_every", "resume", "progress", "device",
    "torch_threads", "env_threads", "eval_episodes", "eval_num_envs", "eval_max_steps",
    "objective", "cost_metric", "env.games", "env.test_num_levels", "env.test_start_level",
}


def _flatten(cfg: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in cfg.items() if k != "env"}
    flat.update({f"env.{k}": v for k, v in cfg["env"].items()})
    return flat


def check_resumable(saved_config: dict[str, Any], cfg: PPOConfig) -> None:
    """Raise ValueError naming every training field that differs from the checkpoint's config."""
    old, new = _flatten(saved_config), _flatten(cfg.to_dict())
    diff = sorted(k for k in new if k not in _RESUME_FREE and old.get(k) != new[k])
    if diff:
        details = ", ".join(f"{k}: {old.get(k)!r} -> {new[k]!r}" for k in diff)
        raise ValueError(
            f"checkpoint_dir holds a run with a different config ({details}); use another "
            "checkpoint_dir or set resume=false to start over"
        )


def checkpoint_files(checkpoint_dir: str | os.PathLike[str], game: str) -> tuple[Path, Path]:
    """``(state.pt, meta.json)`` paths of ``game``'s checkpoint."""
    folder = Path(checkpoint_dir) / game
    return folder / "state.pt", folder / "meta.json"


def save_checkpoint(checkpoint_dir: str | os.PathLike[str], game: str, state: dict[str, Any],
                    meta: dict[str, Any]) -> None:
    """Write ``state`` (tensors / state_dicts / numbers) and ``meta`` (JSON-able) for ``game``."""
    state_path, meta_path = checkpoint_files(checkpoint_dir, game)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(state_path) as tmp:
        torch.save(state, tmp)
    with atomic_path(meta_path) as tmp:
        tmp.write_text(json.dumps({"schema": SCHEMA_VERSION, **meta}, indent=2))
    logger.info("checkpoint saved: %s (step %s)", state_path, meta.get("global_step"))


def _damaged(path: Path, what: str, err: BaseException) -> ValueError:
    detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ValueError(f"{path}: {what} is truncated or corrupt ({detail}); delete {path.parent} "
                      "or set resume=false to start this game over")


def load_checkpoint(checkpoint_dir: str | os.PathLike[str], game: str
                    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(state, meta)`` of ``game``'s checkpoint, or None if there is none.

    Raises:
        ValueError: naming the file, when ``meta.json`` or ``state.pt`` is truncated, corrupt,
            of another schema or missing what a resume needs.
    """
    state_path, meta_path = checkpoint_files(checkpoint_dir, game)
    if not (state_path.exists() and meta_path.exists()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (ValueError, OSError) as err:  # JSONDecodeError / UnicodeDecodeError are ValueErrors
        raise _damaged(meta_path, "the checkpoint's meta file", err) from err
    if not isinstance(meta, dict):  # a damaged file, not a caller's type error
        raise ValueError(f"{meta_path}: expected a JSON object, got "  # noqa: TRY004
                         f"{type(meta).__name__}; delete {meta_path.parent} or set resume=false")
    if meta.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"{meta_path}: schema {meta.get('schema')!r}, expected {SCHEMA_VERSION}")
    missing = [k for k in ("global_step", "config") if k not in meta]
    if missing:
        raise ValueError(f"{meta_path}: missing {missing}; delete {meta_path.parent} or set "
                         "resume=false to start this game over")
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as err:
        raise _damaged(state_path, "the checkpoint", err) from err
    if not isinstance(state, dict):  # a damaged file, not a caller's type error
        raise ValueError(f"{state_path}: expected a dict of state_dicts, got "  # noqa: TRY004
                         f"{type(state).__name__}; delete {state_path.parent} or set resume=false")
    return state, meta
