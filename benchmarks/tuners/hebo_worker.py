"""HEBO behind a JSON-lines pipe: the worker process of the benchmark's ``hebo`` arm.

HEBO 0.3.6 pins numpy<1.25, so it lives in its own virtual environment (``make bench-hebo-env``
builds ``.venv-hebo``) and this script runs there, started by
``benchmarks.tuners.hebo_arm.HeboTuner`` as ``.venv-hebo/bin/python -I hebo_worker.py``. It imports
nothing from this project (only HEBO and what HEBO brings), so it works in that environment.

Protocol: one JSON object per line on stdin, one answer per line on stdout.

    {"op": "init", "seed": 0, "rand_sample": 4,
     "params": [{"name": "lr", "low": 1e-5, "high": 1.0, "log": true, "integer": false}, ...]}
        -> {"ok": true, "hebo": "0.3.6", "numpy": "1.24.4", "torch": "..."}
    {"op": "suggest"}                                   -> {"ok": true, "config": {"lr": ...}}
    {"op": "observe", "config": {...}, "output": 1.23}  -> {"ok": true}
        (``"output": null`` for a failed trial: HEBO's ``observe`` drops non-finite outputs)
    {"op": "close"}                                     -> {"ok": true}, then the worker exits

Any error answers ``{"ok": false, "error": "..."}`` and the worker keeps serving; end of input
ends it. HEBO's own prints go to stderr, so stdout carries only the protocol.
"""

from __future__ import annotations

import json
import math
import os
import sys
import traceback
from typing import Any


def _design_space(params: list[dict[str, Any]]) -> Any:
    """HEBO's DesignSpace for the benchmark's box: pow (log) / num, pow_int / int."""
    from hebo.design_space.design_space import DesignSpace

    rec = []
    for p in params:
        name, low, high = str(p["name"]), float(p["low"]), float(p["high"])
        if p.get("integer"):
            if p.get("log"):
                if low < 1:
                    raise ValueError(f"param {name!r}: HEBO's pow_int needs low >= 1, got {low}")
                rec.append({"name": name, "type": "pow_int", "lb": int(low), "ub": int(high)})
            else:
                rec.append({"name": name, "type": "int", "lb": int(low), "ub": int(high)})
        elif p.get("log"):
            rec.append({"name": name, "type": "pow", "lb": low, "ub": high, "base": 10})
        else:
            rec.append({"name": name, "type": "num", "lb": low, "ub": high})
    return DesignSpace().parse(rec)


def _plain(value: Any, integer: bool) -> float | int:
    """numpy scalar -> JSON number (HEBO returns integer parameters as floats)."""
    value = float(value.item() if hasattr(value, "item") else value)
    return round(value) if integer else value


class Worker:
    """The HEBO optimiser of one tuner run."""

    def __init__(self) -> None:
        self.opt: Any = None
        self.names: list[str] = []
        self.integer: dict[str, bool] = {}

    def init(self, msg: dict[str, Any]) -> dict[str, Any]:
        import hebo.optimizers.hebo as hebo_opt  # first: a missing HEBO fails fast
        import numpy as np
        import torch

        seed = int(msg["seed"])
        torch.set_num_threads(1)
        np.random.seed(seed % 2**32)  # HEBO draws from numpy's and torch's global generators
        torch.manual_seed(seed)
        space = _design_space(msg["params"])
        self.names = [str(p["name"]) for p in msg["params"]]
        self.integer = {str(p["name"]): bool(p.get("integer")) for p in msg["params"]}
        self.opt = hebo_opt.HEBO(space, rand_sample=int(msg.get("rand_sample", 4)), scramble_seed=seed)
        import importlib.metadata as md

        return {"hebo": md.version("HEBO"), "numpy": np.__version__, "torch": torch.__version__}

    def suggest(self, msg: dict[str, Any]) -> dict[str, Any]:
        rec = self.opt.suggest(n_suggestions=1)
        row = rec.iloc[0]
        return {"config": {n: _plain(row[n], self.integer[n]) for n in self.names}}

    def observe(self, msg: dict[str, Any]) -> dict[str, Any]:
        import numpy as np
        import pandas as pd

        out = msg.get("output")
        y = float("nan") if out is None or not math.isfinite(float(out)) else float(out)
        x = pd.DataFrame([{n: msg["config"][n] for n in self.names}])
        self.opt.observe(x, np.array([[y]]))
        return {}


def serve(stdin: Any, stdout: Any) -> None:
    """Answer protocol lines from `stdin` on `stdout` until "close" or end of input."""
    worker = Worker()
    ops = {"init": worker.init, "suggest": worker.suggest, "observe": worker.observe}
    for line in stdin:
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
            op = msg.get("op")
            if op == "close":
                stdout.write(json.dumps({"ok": True}) + "\n")
                stdout.flush()
                return
            if op not in ops:
                raise ValueError(f"unknown op {op!r}; one of {sorted(ops) + ['close']}")
            if op != "init" and worker.opt is None:
                raise RuntimeError(f"{op!r} before 'init'")
            answer = {"ok": True, **ops[op](msg)}
        except Exception as exc:  # noqa: BLE001 - every error goes back to the caller
            traceback.print_exc(file=sys.stderr)
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


def main() -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    protocol = sys.stdout
    sys.stdout = sys.stderr  # HEBO's and its dependencies' prints must not corrupt the protocol
    serve(sys.stdin, protocol)


if __name__ == "__main__":
    main()
