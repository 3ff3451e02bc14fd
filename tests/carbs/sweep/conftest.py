"""Shared by the sweeper's tests: the toy Hydra app (tests/carbs/sweep/sweep_app), a sweep run
in this process exactly as the app's command line would run it, and the app's command line.

The launchers' workers are real processes that import the app by its module name."""

import contextlib
import io
import logging
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra._internal.hydra import Hydra
from hydra._internal.utils import run_and_report
from hydra.core.global_hydra import GlobalHydra

from carbs.sweep.journal import JOURNAL_FILE

APP = Path(__file__).parent / "sweep_app" / "toy_sweep_app.py"
REPO = Path(__file__).resolve().parents[3]
# importable by name here and in the launchers' workers (joblib's inherit sys.path; submitit's
# and Ray's get PYTHONPATH), so a pickled task function finds its module there
PYTHONPATH = os.pathsep.join([str(APP.parent), str(REPO),
                              *filter(None, [os.environ.get("PYTHONPATH")])])
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0",
       "PYTHONPATH": PYTHONPATH, "TQDM_DISABLE": "1"}
sys.path.insert(0, str(APP.parent))
import toy_sweep_app


@dataclass
class Finished:
    """What a sweep left: its exit code and what it wrote to stderr (and stdout)."""

    returncode: int
    stderr: str
    stdout: str = ""


def _sweep(tmp_path, *overrides, sweep_dir=None, check=True):
    """Run the toy app's CARBS sweep in this process, as ``python toy_sweep_app.py --multirun
    +sweep=toy hydra.sweep.dir=<dir> *overrides`` would (Hydra's own error report on stderr,
    exit code 1), saving a process start and its imports; returns (:class:`Finished`, dir)."""
    sweep_dir = Path(sweep_dir or tmp_path / "sweep")
    root, cwd, err, out, code = logging.getLogger(), Path.cwd(), io.StringIO(), io.StringIO(), 0
    handlers, level = root.handlers[:], root.level
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            hydra = Hydra.create_main_hydra_file_or_module(
                calling_file=str(APP), calling_module=None, config_path="conf",
                job_name="toy_sweep_app")
            args = ["+sweep=toy", f"hydra.sweep.dir={sweep_dir}", *overrides]
            run_and_report(lambda: hydra.multirun(config_name="config", overrides=args,
                                                  task_function=toy_sweep_app.task,
                                                  with_log_configuration=True))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        GlobalHydra.instance().clear()
        os.chdir(cwd)
        for handler in set(root.handlers) - set(handlers):  # Hydra's logging set-up
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
    done = Finished(code, err.getvalue(), out.getvalue())
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done, sweep_dir


@pytest.fixture(scope="session")
def sweep():
    """:func:`_sweep`: a sweep of the toy app in this process."""
    return _sweep


@pytest.fixture
def app_command():
    """The toy app's command line for a sweep in ``sweep_dir``."""
    def command(sweep_dir, *overrides):
        return [sys.executable, str(APP), "--multirun", "+sweep=toy",
                f"hydra.sweep.dir={sweep_dir}", *overrides]
    return command


def journal_rows(sweep_dir):
    """The journal's rows as dicts, read without the sweep's code (empty while it is created)."""
    try:
        con = sqlite3.connect(f"file:{Path(sweep_dir) / JOURNAL_FILE}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
        rows = [dict(r) for r in con.execute("SELECT * FROM trials ORDER BY rowid")]
        con.close()
    except sqlite3.Error:
        return []
    return rows


@pytest.fixture
def app_env():
    """The environment of the app's command line (one thread, the app importable by name)."""
    return dict(ENV)


@pytest.fixture
def rows():
    """:func:`journal_rows`."""
    return journal_rows
