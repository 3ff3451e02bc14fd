"""Execute the seven notebooks once per test session (nbclient, headless, threads pinned to one),
on the shipped tables; the tests read the results."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DATA = NOTEBOOKS / "data"

_spec = importlib.util.spec_from_file_location("notebooks_run", NOTEBOOKS / "run.py")
_runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_runner)
NAMES = _runner.NOTEBOOKS  # the notebooks `make notebooks` runs
#: Bootstrap resamples in the tests (the notebooks' defaults are larger; the fits are the same).
BOOTSTRAP = 200
_TIMES: dict[str, float] = {}


@dataclass
class Execution:
    name: str
    returncode: int
    seconds: float
    output: str
    figures: Path


@pytest.fixture(scope="session")
def executions(tmp_path_factory) -> dict[str, Execution]:
    """All seven notebooks, one after another in one shared kernel (each starts with ``%reset
    -f``; `make notebooks` gives each a fresh kernel), threads pinned to one."""
    figures = tmp_path_factory.mktemp("notebook_figures")
    runs = _runner.execute_many(list(NAMES), figures, BOOTSTRAP, timeout=600, shared_kernel=True)
    _TIMES.update({name: seconds for name, (_, seconds) in runs.items()})
    return {name: Execution(name, 0 if error is None else 1, seconds, error or "", figures)
            for name, (error, seconds) in runs.items()}


def pytest_terminal_summary(terminalreporter) -> None:
    if _TIMES:
        terminalreporter.write_line("notebook execution times (s, one shared kernel): " + ", ".join(
            f"{k} {v:.1f}" for k, v in _TIMES.items()))
