"""The ``hebo`` arm: HEBO (Huawei, winner of the NeurIPS 2020 black-box optimisation challenge).

HEBO 0.3.6 pins numpy<1.25 and cannot share the project's environment, so it runs in its own:
``make bench-hebo-env`` builds ``.venv-hebo`` at the repository root from
``benchmarks/tuners/hebo_requirements.txt`` (``HEBO_PYTHON=/path/to/python`` points the arm at
another interpreter with HEBO). Each run starts one worker process,
``<that python> -I benchmarks/tuners/hebo_worker.py``, and talks to it over JSON lines (init /
suggest / observe / close; protocol in the worker's docstring).

HEBO is used with its defaults (GP surrogate with input and output warping, the MACE
multi-objective acquisition optimised by NSGA-II) and ``rand_sample=4`` (CARBS's number of
random starting points); the first trial is the common search center, told to HEBO as an
observation. A failed trial is told as a non-finite output, which HEBO's ``observe`` drops.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Any

from benchmarks.tuners.adapters import N_STARTUP, Tuner
from benchmarks.tuners.space import Dim

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().with_name("hebo_worker.py")
HEBO_VENV = REPO_ROOT / ".venv-hebo"


class HeboUnavailable(RuntimeError):
    """HEBO's own environment is missing (build it with ``make bench-hebo-env``)."""


def hebo_python() -> Path:
    """The interpreter that runs the HEBO worker: ``$HEBO_PYTHON`` or ``.venv-hebo/bin/python``."""
    env = os.environ.get("HEBO_PYTHON")
    return Path(env) if env else HEBO_VENV / "bin" / "python"


def hebo_missing() -> str:
    """Why the HEBO arm cannot run here, or "" when its interpreter is present."""
    py = hebo_python()
    if py.is_file() and os.access(py, os.X_OK):
        return ""
    where = "HEBO_PYTHON" if os.environ.get("HEBO_PYTHON") else "HEBO's environment"
    return (
        f"{where} not found ({py}): HEBO pins numpy<1.25 and runs in its own virtual "
        "environment; build it with `make bench-hebo-env`"
    )


class HeboTuner(Tuner):
    """HEBO in a worker process of its own environment; see the module doc."""

    name = "hebo"

    def __init__(self, dims: tuple[Dim, ...], center: dict[str, Any], seed: int) -> None:
        super().__init__(dims, center, seed)
        missing = hebo_missing()
        if missing:
            raise HeboUnavailable(missing)
        env = dict(os.environ)
        env.update({v: "1" for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
        env.pop("PYTHONPATH", None)
        # the worker's stderr (HEBO's prints, tracebacks), shown when it fails
        self._stderr: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in close()
        self._proc: subprocess.Popen[str] | None = subprocess.Popen(
            [str(hebo_python()), "-I", str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )
        params = [
            {"name": d.name, "low": d.low, "high": d.high, "log": d.log, "integer": d.integer}
            for d in dims
        ]
        try:
            self.versions = self._call(
                {"op": "init", "seed": int(seed), "rand_sample": N_STARTUP, "params": params}
            )
        except Exception:
            self.close()
            raise
        self._center_pending = True
        self._asked: dict[str, Any] | None = None

    def _call(self, msg: dict[str, Any]) -> dict[str, Any]:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise RuntimeError("hebo: the worker is closed")
        try:
            proc.stdin.write(json.dumps(msg) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            raise RuntimeError(f"hebo worker died (exit {proc.poll()}): {self._stderr_tail()}")
        answer = json.loads(line)
        if not answer.pop("ok", False):
            raise RuntimeError(f"hebo worker: {answer.get('error')}")
        return answer

    def _stderr_tail(self, n: int = 2000) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-n:].strip()

    def ask(self) -> dict[str, Any]:
        if self._center_pending:
            self._asked = dict(self.center)
        else:
            self._asked = dict(self._call({"op": "suggest"})["config"])
        return dict(self._asked)

    def tell(self, config: dict[str, Any], output: float, cost: float, failed: bool) -> None:
        if self._asked is None:
            raise RuntimeError("hebo: tell() called before ask()")
        value = None if failed or not math.isfinite(output) else float(output)
        self._call({"op": "observe", "config": self._asked, "output": value})
        self._asked = None
        self._center_pending = False

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None and proc.stdin is not None:
                proc.stdin.write(json.dumps({"op": "close"}) + "\n")
                proc.stdin.close()
            proc.wait(timeout=10)
        except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
            self._stderr.close()

    def __del__(self) -> None:  # a run that crashed before the runner's close()
        with contextlib.suppress(Exception):
            self.close()
