"""The sweep layer: CARBS driving any Hydra task through any Hydra launcher.

- :mod:`carbs.sweep.sweeper`: the Hydra ``Sweeper`` (thin glue: settings, sweep directory,
  launcher);
- :mod:`carbs.sweep.settings`: the ``hydra.sweeper`` schema (one typed dataclass) and every
  check made before the first trial;
- :mod:`carbs.sweep.loop`: one sweep from start (or resume) to budget: budgets, recording,
  stops; :mod:`carbs.sweep.scheduling`: when trials launch (async or batch);
  :mod:`carbs.sweep.opening`: a new sweep, or the resume of its journal;
  :mod:`carbs.sweep.trial`: a trial between suggestion and record;
  :mod:`carbs.sweep.final_wave`: the last launches capped to end with the trials in flight;
- :mod:`carbs.sweep.launchers`: how each Hydra launcher takes concurrent trials, and how a
  stopping sweep ends their workers;
- :mod:`carbs.sweep.lock`: one owner per sweep directory;
- :mod:`carbs.sweep.progress`: the bar, the per-trial lines, the sweep log, plots, summary;
- :mod:`carbs.sweep.task`: the worker side (output, timeout, records);
- :mod:`carbs.sweep.records`: the records workers leave and how they are matched to trials;
- :mod:`carbs.sweep.outcome`: a task's result or record as a trial outcome;
- :mod:`carbs.sweep.journal`: the SQLite journal (importable without Hydra or torch).

Names load on first use, so ``import carbs.sweep.journal`` imports neither Hydra nor torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CARBSSweeper": "carbs.sweep.sweeper",
    "CARBSSweeperConf": "carbs.sweep.settings",
    "SweepConfigError": "carbs.sweep.settings",
    "load_settings": "carbs.sweep.settings",
    "SweepAbortedError": "carbs.sweep.loop",
    "SweepRun": "carbs.sweep.loop",
    "SweepStoppedError": "carbs.sweep.loop",
    "SweepLock": "carbs.sweep.lock",
    "SweepLockedError": "carbs.sweep.lock",
    "TrialTask": "carbs.sweep.task",
    "final_wave_cap": "carbs.sweep.final_wave",
    "TrialOutcome": "carbs.sweep.outcome",
    "interpret_result": "carbs.sweep.outcome",
    "JOURNAL_FILE": "carbs.sweep.journal",
    "Journal": "carbs.sweep.journal",
    "JournalError": "carbs.sweep.journal",
    "load_trials": "carbs.sweep.journal",
}

__all__ = [
    "JOURNAL_FILE",
    "CARBSSweeper",
    "CARBSSweeperConf",
    "Journal",
    "JournalError",
    "SweepAbortedError",
    "SweepConfigError",
    "SweepLock",
    "SweepLockedError",
    "SweepRun",
    "SweepStoppedError",
    "TrialOutcome",
    "TrialTask",
    "final_wave_cap",
    "interpret_result",
    "load_settings",
    "load_trials",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'carbs.sweep' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from carbs.sweep.final_wave import final_wave_cap
    from carbs.sweep.journal import JOURNAL_FILE, Journal, JournalError, load_trials
    from carbs.sweep.lock import SweepLock, SweepLockedError
    from carbs.sweep.loop import SweepAbortedError, SweepRun, SweepStoppedError
    from carbs.sweep.outcome import TrialOutcome, interpret_result
    from carbs.sweep.settings import CARBSSweeperConf, SweepConfigError, load_settings
    from carbs.sweep.sweeper import CARBSSweeper
    from carbs.sweep.task import TrialTask
