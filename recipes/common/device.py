"""One device resolver for the recipes: the config's ``device`` string -> a ``torch.device``.

The recipes name devices the way their configs do: ``auto``, ``cpu``, ``cuda`` / ``cuda:<i>``
(PPO) and ``gpu`` (the LM recipe, Composer's word for CUDA). :func:`composer_device` turns the
resolved device back into the name Composer's ``Trainer(device=...)`` takes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["composer_device", "resolve_device"]


def resolve_device(name: str, field: str = "device") -> torch.device:
    """``auto`` -> CUDA if available, else CPU; ``gpu`` -> ``cuda``; anything else
    (``cpu``, ``cuda``, ``cuda:1``) -> ``torch.device(name)``.

    Raises:
        ValueError: naming ``field`` (the config field, e.g. ``train.device``) when a CUDA
            device is asked for but CUDA is not available.
    """
    import torch  # deferred: the entry points' --help stays fast

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "gpu" or name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"{field}={name!r} but CUDA is not available; use {field}=cpu "
                             "or auto")
        return torch.device("cuda" if name == "gpu" else name)
    return torch.device(name)


def composer_device(device: torch.device) -> str:
    """Composer's name of ``device``: ``gpu`` for CUDA, ``cpu`` otherwise."""
    return "gpu" if device.type == "cuda" else "cpu"
