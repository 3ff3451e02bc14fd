"""One device resolver: a config's ``device`` string -> a ``torch.device``.

Configs name devices ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` /
``cuda:<i>``, and ``gpu`` (Composer's word for CUDA). torch is imported when a device is
resolved, not when this module is, so the trial contract stays importable without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["resolve_device"]


def resolve_device(name: str, field: str = "device") -> torch.device:
    """``auto`` -> CUDA if available, else CPU; ``gpu`` -> ``cuda``; anything else (``cpu``,
    ``cuda``, ``cuda:1``) -> ``torch.device(name)``.

    Raises:
        ValueError: naming ``field`` (the setting, e.g. ``train.device``) for a name torch does
            not know, or a CUDA device asked for where CUDA is not available.
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device("cuda" if name == "gpu" else name)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"{field}={name!r} is not a torch device ({e}); use 'auto', 'cpu' or "
                         "'cuda'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{field}={name!r} but CUDA is not available; use {field}=cpu or auto "
                         "('auto' takes CUDA when present)")
    return dev
