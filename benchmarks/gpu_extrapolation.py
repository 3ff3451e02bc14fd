"""The extrapolation check at GPU scale: a CARBS sweep of the LM recipe in about 1e15-1e17
training FLOPs on one GPU (``conf/sweep/lm_gpu_scaling.yaml``), then
:mod:`benchmarks.extrapolation` on it: ``scaling recommend``'s configuration at 10x the sweep's
largest run against the two baselines at the same FLOPs, on several seeds.

    python -m benchmarks.gpu_extrapolation --out runs/gpu_extrapolation      # on a GPU machine
    python -m benchmarks.gpu_extrapolation --dry-run                          # tiny, on the CPU

Full setting: ``--trials`` (default 40) trials of the sweep, then 3 seeds x 3 arms at 10x. On an
H100 the sweep takes about an hour and each 10x run (about 1e18 FLOPs) about an hour, so the
whole check is a job of about 10 GPU-hours: ``--seeds 0`` and ``--arms`` cut it down, and both
steps resume (the sweep from its journal in ``OUT/sweep``, the runs from ``OUT/extrapolation``),
so it can be spread over several sessions. Extra Hydra overrides for the sweep and every run
(e.g. a C4 corpus: ``--override data=c4 --override 'data.paths=[...]'``) go through
``--override``.

``--dry-run``: two trials of the CPU sweep config (``lm_cpu_scaling``) stopped after a few
batches, on the CPU, then the extrapolation's ``--quick`` on the shipped CPU sweep (a sweep of two
trials has no front to fit): every step of the pipeline, in about a minute.

The last stdout line is one JSON object: ``{"benchmark": "gpu_extrapolation", "dry_run",
"device", "sweep": {...}, "extrapolation": [...]}``. ``benchmarks/gpu_check.py`` runs it as its
``extrapolation`` section.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("gpu_extrapolation")

DRY_SWEEP = ["train.device=cpu", "train.precision=fp32", "train.stop_after_batches=3",
             "data.max_bytes=1000000", "data.val_fraction=0.1", "data.val_tokens=1024"]


def run_sweep(out: Path, sweep: str, trials: int, overrides: list[str], dry: bool) -> dict:
    """``trials`` trials of ``+sweep=<sweep>`` into ``out/sweep`` (resumed when its journal
    exists), as a subprocess; returns the command, its exit status and the journal's numbers."""
    import carbs

    sweep_dir = out / "sweep"
    cmd = [sys.executable, "-m", "recipes.lm", "--multirun", f"+sweep={sweep}",
           f"hydra.sweep.dir={sweep_dir}", f"hydra.sweeper.max_trials={trials}",
           *(DRY_SWEEP if dry else []), *overrides]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    (out / "sweep.log").write_text(proc.stdout + proc.stderr)
    result: dict[str, Any] = {"command": " ".join(cmd[1:]), "returncode": proc.returncode,
                              "seconds": round(time.perf_counter() - t0, 1)}
    journal = sweep_dir / "journal.sqlite"
    if not journal.exists():
        result["error"] = (proc.stderr or proc.stdout)[-2000:]
        return result
    table = carbs.load_trials(journal)
    ok = table[table["status"] == "ok"]
    result.update(journal=str(journal), trials=len(table), ok=len(ok))
    if len(ok):
        result.update(flops_min=float(ok["metric.flops"].min()),
                      flops_max=float(ok["metric.flops"].max()),
                      best_output=float(ok["output"].min()))
    return result


def run_extrapolation(out: Path, journal: Path, sweep: str, seeds: list[int], arms: list[str],
                      overrides: list[str], dry: bool) -> list[dict]:
    """:func:`benchmarks.extrapolation.main` on ``journal``; returns its JSON summary."""
    from benchmarks import extrapolation

    argv = ["--out", str(out / "extrapolation"), "--arms", *arms]
    if dry:
        argv += ["--quick", "--override", "train.device=cpu"]
    else:
        argv += ["--sweep", str(journal), "--sweep-config", sweep, "--seeds",
                 *map(str, seeds)]
    for o in overrides:
        argv += ["--override", o]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        extrapolation.main(argv)
    return json.loads(buf.getvalue().strip().splitlines()[-1])


def run(out: Path, *, dry: bool, trials: int | None = None, seeds: list[int] | None = None,
        arms: list[str] | None = None, overrides: list[str] | None = None) -> dict[str, Any]:
    """The sweep, then the 10x check; each step's error is recorded, not raised."""
    import torch

    from benchmarks.extrapolation import ARMS

    out.mkdir(parents=True, exist_ok=True)
    sweep = "lm_cpu_scaling" if dry else "lm_gpu_scaling"
    overrides = list(overrides or [])
    result: dict[str, Any] = {
        "benchmark": "gpu_extrapolation", "dry_run": dry,
        "device": "cpu" if dry or not torch.cuda.is_available() else torch.cuda.get_device_name()}
    try:
        result["sweep"] = run_sweep(out, sweep, trials or (2 if dry else 40), overrides, dry)
    except Exception as err:  # noqa: BLE001  (the JSON line says what failed)
        result["sweep"] = {"error": f"{type(err).__name__}: {err}"[:2000]}
    journal = Path(result["sweep"].get("journal", out / "sweep" / "journal.sqlite"))
    try:
        result["extrapolation"] = run_extrapolation(
            out, journal, sweep, seeds or [0, 1, 2], arms or list(ARMS), overrides, dry)
    except (Exception, SystemExit) as err:  # noqa: BLE001
        result["extrapolation"] = {"error": f"{type(err).__name__}: {err}"[:2000]}
    (out / "result.json").write_text(json.dumps(result, indent=1, default=float))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gpu_extrapolation",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", "--quick", action="store_true", dest="dry_run",
                    help="every step at tiny sizes on the CPU")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "gpu_extrapolation")
    ap.add_argument("--trials", type=int, default=None, help="sweep trials (default 40; dry 2)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--arms", nargs="+", default=None, help="default: all three")
    ap.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                    help="Hydra override for the sweep and every 10x run (repeatable)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        ap.error("no CUDA device: run it on a GPU machine, or use --dry-run on a CPU")
    result = run(args.out, dry=args.dry_run, trials=args.trials, seeds=args.seeds,
                 arms=args.arms, overrides=args.override)
    print(json.dumps(result, default=float), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
