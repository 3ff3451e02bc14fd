"""The recipes' devices: the config's ``device`` string is resolved by :func:`tays.resolve_device`
(``auto``, ``cpu``, ``cuda`` / ``cuda:<i>`` in PPO, ``gpu`` in the LM recipe, Composer's word
for CUDA); :func:`composer_device` turns the resolved device back into the name Composer's
``Trainer(device=...)`` takes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from tays import resolve_device

if TYPE_CHECKING:
    import torch

__all__ = ["composer_device", "resolve_device"]


def composer_device(device: torch.device) -> str:
    """Composer's name of ``device``: ``gpu`` for CUDA, ``cpu`` otherwise."""
    return "gpu" if device.type == "cuda" else "cpu"
