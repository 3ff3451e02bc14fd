"""The recipes' Hydra entry points share this: the result is printed as one JSON line, a failed
single run exits non-zero, while a ``--multirun`` sweep gets the failed result dict back from the
task function."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tays import jsonable

__all__ = ["exit_if_failed", "is_single_run", "print_result"]


def is_single_run() -> bool:
    """True for one run from the command line (Hydra's RUN mode); False in a ``--multirun``
    sweep, whose sweeper reads the task function's returned dict, and outside Hydra."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        return HydraConfig.get().mode == RunMode.RUN
    except ValueError:  # HydraConfig is not set: called directly, not through hydra.main
        return False


def exit_if_failed(result: Mapping[str, Any]) -> None:
    """After the result was printed: ``SystemExit`` (``error: ...`` on stderr, status 1) when a
    single run failed; nothing in a sweep or for a success."""
    if result.get("status") == "failed" and is_single_run():
        raise SystemExit(f"error: {result.get('error')}")


def print_result(result: Mapping[str, Any]) -> None:
    """Print ``result`` as one line of standard JSON: a NaN or infinite number (e.g. the
    ``output`` of a failed trial, ``metric.mfu`` on a CPU) is written as ``null``."""
    print(json.dumps(jsonable(dict(result))), flush=True)
