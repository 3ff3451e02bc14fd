"""What the CARBS sweeper (CARBS suggest/observe, the SQLite journal, the JSON checkpoints, the
trial records, the plots) adds per trial over the trial itself.

    python -m benchmarks.sweep_overhead            # 10 and 100 trials; 64 trials at 8 workers
    python -m benchmarks.sweep_overhead --quick    # 8 trials; 8 at 4 workers (< 60 s)

Both arms run in this process, one after the other, on Hydra's basic (in-process) launcher
(one trial at a time) and on the joblib launcher with 8 worker processes (4 with ``--quick``),
with the same no-op task (``--trial-seconds`` of sleep, default 0, so only overhead is timed),
the same Hydra app and the same thread settings (torch and BLAS at 1 thread):

- baseline: a plain Hydra ``--multirun`` grid (Hydra's BasicSweeper) over the ``x`` values that
  the CARBS arm ran, one job per value: everything Hydra itself does per job (composing the
  config, the job directory, logging setup, the task call);
- ours: the same app under ``hydra/sweeper=carbs`` with a 3-parameter search space (two
  numbers and a categorical; cost-aware), budget ``max_trials=N``, the sweeper's defaults
  (asynchronous: ``n_jobs`` trials in flight, one launch per trial; plots refreshed every 30 s
  and at the end).

With 8 workers the baseline hands all N jobs to joblib in one call, so the difference is what
the sweeper serialises in its own process: a suggestion per trial (the GP fits), the journal,
the checkpoints and one launch call per trial. Per-trial overhead = (ours - baseline) / N.
Targets: < 5% of a 30-second trial (1.5 s), and < 0.5 s per trial at 100 trials. The last line
is one JSON object per setting.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import tempfile
import time
from pathlib import Path

from benchmarks.hydra_multirun import time_multirun

# (torch is imported in main(): the joblib workers import this module for the task, by name)

_CONFIG = """\
x: 0.0
size: 10.0
act: gelu
sleep: 0.0
hydra:
  job:
    chdir: false
"""

_SWEEP = """\
# @package _global_
defaults:
  - override /hydra/sweeper: carbs
hydra:
  sweeper:
    cost: cost
    max_trials: 10
    search_space:
      x: {space: linear, center: 0.0, min: -2, max: 2}
      size: {space: log, center: 10, min: 1, max: 1000}
      act: {space: categorical, choices: [gelu, relu], center: gelu}
"""


def _task(cfg) -> dict:
    if cfg.sleep:
        time.sleep(float(cfg.sleep))
    loss = (float(cfg.x) - 0.3) ** 2 + 1.0 / math.sqrt(float(cfg.size))
    return {"output": loss + (0.05 if cfg.act == "relu" else 0.0), "cost": float(cfg.size)}


def _run_app(conf_dir: Path, overrides: list[str]) -> float:
    """One in-process Hydra multirun; returns its wall time."""
    # by its module's name (not __main__), so that joblib's workers can unpickle it
    from benchmarks.sweep_overhead import _task

    return time_multirun(_task, conf_dir, overrides, prog="sweep_overhead")


def _launcher(workers: int) -> list[str]:
    return [] if workers == 1 else ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={workers}"]


def _carbs_arm(conf_dir: Path, work: Path, n: int, sleep: float, tag: str,
               workers: int) -> tuple[float, list]:
    from carbs.sweep.journal import load_trials

    sweep_dir = work / f"carbs-{tag}"
    wall = _run_app(conf_dir, ["+sweep=toy", f"hydra.sweep.dir={sweep_dir}",
                               f"hydra.sweeper.max_trials={n}", f"hydra.sweeper.n_jobs={workers}",
                               f"sleep={sleep}", *_launcher(workers)])
    df = load_trials(sweep_dir)
    if len(df) != n or not (df["status"] == "ok").all():
        raise RuntimeError(f"the CARBS arm ran {len(df)} trials ({df['status'].tolist()})")
    return wall, df["param.x"].tolist()


def _grid_arm(conf_dir: Path, work: Path, xs: list, sleep: float, tag: str,
              workers: int) -> float:
    values = ",".join(repr(float(x)) for x in xs)
    return _run_app(conf_dir, [f"hydra.sweep.dir={work / f'grid-{tag}'}", f"x={values}",
                               f"sleep={sleep}", *_launcher(workers)])


def measure(n: int, sleep: float, work: Path, conf_dir: Path, workers: int = 1) -> dict:
    """Both arms at ``n`` trials (same process, same task, same configurations)."""
    import torch

    tag = f"{n}-{workers}"
    ours, xs = _carbs_arm(conf_dir, work, n, sleep, tag, workers)
    base = _grid_arm(conf_dir, work, xs, sleep, tag, workers)
    per_trial = (ours - base) / n
    return {
        "benchmark": "sweep_overhead",
        "trials": n,
        "workers": workers,
        "launcher": "basic" if workers == 1 else "joblib",
        "trial_seconds": sleep,
        "threads": torch.get_num_threads(),
        "ours_s": round(ours, 3),
        "baseline_s": round(base, 3),
        "baseline": "plain Hydra --multirun grid (BasicSweeper), same x values, same task, "
                    "same launcher",
        "ours_s_per_trial": round(ours / n, 4),
        "baseline_s_per_trial": round(base / n, 4),
        "overhead_s_per_trial": round(per_trial, 4),
        "overhead_pct_of_30s_trial": round(100.0 * per_trial / 30.0, 3),
        "ratio": round(ours / base, 3) if base > 0 else None,
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.sweep_overhead", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="8 trials, and 8 at 4 workers (under 60 s on 2 busy cores)")
    ap.add_argument("--trials", type=int, nargs="+", help="trial counts (default 10 100)")
    ap.add_argument("--parallel-trials", type=int,
                    help="trials of the parallel setting (default 64; 0 skips it)")
    ap.add_argument("--parallel-workers", type=int,
                    help="joblib workers of the parallel setting (default 8; --quick: 4)")
    ap.add_argument("--trial-seconds", type=float, default=0.0,
                    help="sleep inside each trial (default 0: time the overhead only)")
    ap.add_argument("--threads", type=int, default=1, help="torch/BLAS threads (default 1)")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ["TQDM_DISABLE"] = "1"  # no progress bars in the figures' output
    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    counts = args.trials or ([8] if args.quick else [10, 100])
    parallel = (8 if args.quick else 64) if args.parallel_trials is None else args.parallel_trials
    pool = args.parallel_workers or (4 if args.quick else 8)
    # joblib's workers import this module by name
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parents[1]),
                                                             os.environ.get("PYTHONPATH")]))
    rows = []
    with tempfile.TemporaryDirectory(prefix="sweep_overhead-") as tmp:
        work = Path(tmp)
        conf_dir = work / "conf"
        (conf_dir / "sweep").mkdir(parents=True)
        (conf_dir / "config.yaml").write_text(_CONFIG)
        (conf_dir / "sweep" / "toy.yaml").write_text(_SWEEP)
        # warm-up, for both arms alike: imports, plugin discovery, Hydra's job code and the
        # first GP fits (6 trials one at a time: CARBS's 4 random start-up trials, then 2
        # fitted); the workers' pool, each worker having run a job (2 jobs of 0.2 s per worker:
        # every worker imports the task's module and Hydra's job code before any arm is timed)
        _carbs_arm(conf_dir, work / "warmup", 6, 0.0, "warmup", 1)
        if parallel:
            _grid_arm(conf_dir, work / "warmup", [0.1 * i for i in range(2 * pool)], 0.2,
                      "pool", pool)
        settings = [(n, 1) for n in counts] + ([(parallel, pool)] if parallel else [])
        for n, workers in settings:
            row = measure(n, args.trial_seconds, work, conf_dir, workers)
            rows.append(row)
            print(f"{n:4d} trials, {workers} worker(s): CARBS sweep {row['ours_s']:.2f} s, plain "
                  f"grid {row['baseline_s']:.2f} s -> overhead {row['overhead_s_per_trial']:.3f} "
                  f"s per trial ({row['overhead_pct_of_30s_trial']:.2f}% of a 30 s trial)",
                  flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
