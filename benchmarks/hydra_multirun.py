"""One in-process Hydra multirun, timed: what the sweep benchmarks run each arm through.

The task is passed in by the caller, imported by its module's name (not ``__main__``), so that
the joblib launcher's worker processes can unpickle it. Hydra's and the job's own logging are
disabled (``QUIET``): the benchmarks time the sweeper, not log formatting.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["QUIET", "time_multirun"]

QUIET = ["hydra/job_logging=disabled", "hydra/hydra_logging=disabled"]


def time_multirun(task: Callable[[Any], Any], conf_dir: Path, overrides: Sequence[str],
                  prog: str = "benchmark") -> float:
    """Run ``task`` as a Hydra ``--multirun`` app on ``conf_dir/config.yaml`` with
    ``overrides`` (plus :data:`QUIET`), in this process; returns its wall time in seconds.
    ``sys.argv`` and Hydra's global state are restored afterwards."""
    import hydra
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    app = hydra.main(config_path=str(conf_dir), config_name="config", version_base="1.3")(task)
    argv = sys.argv
    sys.argv = [prog, "--multirun", *overrides, *QUIET]
    try:
        t0 = time.perf_counter()
        app()
        return time.perf_counter() - t0
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()
