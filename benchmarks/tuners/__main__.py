"""CLI: ``python -m benchmarks.tuners [--problems ...] [--tuners ...] [--seeds N] [--quick]``.

Runs every (problem, tuner, seed), writes trials.csv, runs.csv, summary.csv/.md, comparison.csv/.md
and PNG plots into --out, prints the markdown summary and the comparison with CARBS and, as the
LAST stdout line, one JSON list of figures (one object per problem x tuner; ratios are against
random search run in the same process).

Arms: carbs, tpe, gp, random (Optuna / numpy), asha (Optuna's SuccessiveHalvingPruner on the
learning curves), blendsearch (FLAML), hebo (HEBO in its own environment: `make bench-hebo-env`;
without it the hebo arm is skipped with a message and the others run). --quick runs a subset of
arms and problems unless --tuners / --problems name them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import pandas as pd

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from benchmarks.tuners.adapters import EXTRA_TUNERS, TUNER_NAMES
from benchmarks.tuners.hebo_arm import hebo_missing, hebo_python
from benchmarks.tuners.problems import PROBLEM_NAMES
from benchmarks.tuners.report import figures, write_report
from benchmarks.tuners.runner import make_specs, pin_threads, run_benchmark

#: --quick without --tuners / --problems: the cheap arms (HEBO spends seconds per suggestion) on
#: one problem of each kind (the simulated LM sweep, a cost-aware and a cost-free test function,
#: the two real training tasks).
QUICK_TUNERS: tuple[str, ...] = ("carbs", "tpe", "random", "asha", "blendsearch")
QUICK_PROBLEMS: tuple[str, ...] = (
    "chinchilla", "branin-cost", "hartmann6", "mlp-digits", "cnn-digits"
)


def _csv_list(
    value: str, valid: tuple[str, ...], flag: str, extra: tuple[str, ...] = ()
) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if items == ["all"]:
        return list(valid)
    valid = valid + extra
    bad = [v for v in items if v not in valid]
    if bad or not items:
        raise argparse.ArgumentTypeError(
            f"{flag}: unknown {bad or value!r}; choose from {','.join(valid)} or 'all'"
        )
    return items


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.tuners",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--problems",
        default=None,
        help=f"comma list or 'all' (default; --quick: {','.join(QUICK_PROBLEMS)}): "
        f"{','.join(PROBLEM_NAMES)}",
    )
    p.add_argument(
        "--tuners",
        default=None,
        help=f"comma list or 'all' (default; --quick: {','.join(QUICK_TUNERS)}): "
        f"{','.join(TUNER_NAMES)} (also: {','.join(EXTRA_TUNERS)})",
    )
    p.add_argument(
        "--seeds", type=int, default=None, help="number of seeds 0..N-1 (default 10; --quick 1)"
    )
    p.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds K..K+N-1 instead of 0..N-1 (split a long run; merge with --report-only)",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=1.0,
        help="multiplier on every problem's default budget (cost-free: trial count)",
    )
    p.add_argument(
        "--max-trials", type=int, default=None, help="override every problem's trial cap"
    )
    p.add_argument(
        "--out", type=Path, default=None, help="output directory (default runs/tuners[-quick])"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small setting: quick budgets, 1 seed, no PNG plots (< 60 s on 2 busy cores)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="parallel processes, 1 thread each (results do not depend on it)",
    )
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument(
        "--plots", action="store_true", help="draw the PNG plots in --quick too (off there)"
    )
    p.add_argument(
        "--report-only",
        type=Path,
        default=None,
        metavar="DIR",
        help="re-render tables and plots from DIR/trials.csv and DIR/budgets.json; run nothing",
    )
    p.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        metavar="DIR",
        help="merge the trials of several output folders (e.g. --first-seed parts, arms run "
        "apart) into --out and render the report there; run nothing",
    )
    return p


def environment() -> dict[str, str]:
    """Versions that the figures depend on (CARBS is identified by a hash of its sources)."""
    import hashlib
    import importlib.metadata as md
    import platform

    env = {"python": platform.python_version()}
    for dist in ("optuna", "flaml", "torch", "gpytorch", "scikit-learn", "numpy"):
        try:
            env[dist] = md.version(dist)
        except md.PackageNotFoundError:
            env[dist] = "missing"
    env["hebo"] = _hebo_version()
    try:
        import carbs

        digest = hashlib.sha256()
        for path in sorted(Path(carbs.__file__).parent.glob("*.py")):
            digest.update(path.read_bytes())
        env["carbs_sources_sha256"] = digest.hexdigest()[:16]
    except ImportError as exc:
        env["carbs_sources_sha256"] = f"not importable: {exc}"
    return env


def _hebo_version() -> str:
    """HEBO's version in its own environment (asked without importing HEBO), or why not."""
    import subprocess

    if hebo_missing():
        return "missing"
    code = "import importlib.metadata as m; print(m.version('HEBO'), m.version('numpy'))"
    try:
        out = subprocess.run([str(hebo_python()), "-I", "-c", code], capture_output=True,
                             text=True, timeout=60, check=True).stdout.split()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"not importable: {exc}"
    return f"{out[0]} (numpy {out[1]})" if len(out) == 2 else "not importable"


def _drop_hebo_if_missing(tuners: list[str]) -> list[str]:
    """Skip only the hebo arm, saying so plainly, when its environment is missing."""
    missing = hebo_missing() if "hebo" in tuners else ""
    if not missing:
        return tuners
    msg = f"skipping the hebo arm: {missing}"
    logging.getLogger("benchmarks.tuners").warning(msg)
    print(msg, file=sys.stderr)
    return [t for t in tuners if t != "hebo"]


def _merge(sources: list[Path], out: Path) -> int:
    """Concatenate the trials of `sources` into `out` (each (problem, tuner, seed) once)."""
    trials, budgets, envs = [], {}, {}
    for src in sources:
        for name in ("trials.csv", "budgets.json"):
            if not (src / name).is_file():
                print(f"--merge: {src / name} not found", file=sys.stderr)
                return 2
        trials.append(pd.read_csv(src / "trials.csv", keep_default_na=False, na_values=[""]))
        for problem, cost in json.loads((src / "budgets.json").read_text()).items():
            if budgets.setdefault(problem, cost) != cost:
                print(f"--merge: {problem} has budget {cost} in {src} but {budgets[problem]} "
                      "elsewhere; merge runs of one budget", file=sys.stderr)
                return 2
        if (src / "environment.json").is_file():
            envs[str(src)] = json.loads((src / "environment.json").read_text())
    merged = pd.concat(trials, ignore_index=True)
    dup = merged.drop_duplicates(["problem", "tuner", "seed", "trial_index"])
    if len(dup) != len(merged):
        print("--merge: a (problem, tuner, seed) run appears in two sources", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    merged.to_csv(out / "trials.csv", index=False)
    (out / "budgets.json").write_text(json.dumps(budgets, indent=1))
    (out / "environment.json").write_text(json.dumps({"merged_from": envs}, indent=1))
    return 0


def _report_only(src: Path, plots: bool) -> int:
    trials_path, budgets_path = src / "trials.csv", src / "budgets.json"
    for path in (trials_path, budgets_path):
        if not path.is_file():
            print(f"--report-only: {path} not found (write it with a normal run)", file=sys.stderr)
            return 2
    trials = pd.read_csv(trials_path, keep_default_na=False, na_values=[""])
    budgets = json.loads(budgets_path.read_text())
    _, summary, comparison = write_report(trials, budgets, src, plots=plots)
    print((src / "summary.md").read_text())
    print((src / "comparison.md").read_text())
    print(json.dumps(figures(summary, comparison)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("carbs").setLevel(logging.WARNING)
    if args.merge is not None:
        if args.out is None:
            build_parser().error("--merge needs --out")
        rc = _merge(args.merge, args.out)
        return rc if rc else _report_only(args.out, plots=not args.no_plots)
    if args.report_only is not None:
        return _report_only(args.report_only, plots=not args.no_plots)
    try:
        problems = (
            _csv_list(args.problems, PROBLEM_NAMES, "--problems")
            if args.problems is not None
            else list(QUICK_PROBLEMS if args.quick else PROBLEM_NAMES)
        )
        tuners = (
            _csv_list(args.tuners, TUNER_NAMES, "--tuners", EXTRA_TUNERS)
            if args.tuners is not None
            else list(QUICK_TUNERS if args.quick else TUNER_NAMES)
        )
    except argparse.ArgumentTypeError as exc:
        build_parser().error(str(exc))
    tuners = _drop_hebo_if_missing(tuners)
    if not tuners:
        print("no tuner left to run", file=sys.stderr)
        return 2
    n_seeds = args.seeds if args.seeds is not None else (1 if args.quick else 10)
    if n_seeds < 1:
        build_parser().error("--seeds must be >= 1")
    if args.first_seed < 0:
        build_parser().error("--first-seed must be >= 0")
    if args.workers < 1:
        build_parser().error("--workers must be >= 1")
    out = args.out or Path("runs") / ("tuners-quick" if args.quick else "tuners")
    pin_threads(1)
    specs = make_specs(
        problems,
        tuners,
        list(range(args.first_seed, args.first_seed + n_seeds)),
        quick=args.quick,
        budget_scale=args.budget,
        max_trials=args.max_trials,
    )
    budgets = {s.problem: s.budget.cost for s in specs}
    env = environment()  # before running: the carbs sources may change while a long run goes on
    t0 = time.perf_counter()
    trials, results = run_benchmark(specs, workers=args.workers)
    elapsed = time.perf_counter() - t0
    crashed = [f"{r.spec.sweep}: {r.tuner_error}" for r in results if r.tuner_error]
    for line in crashed:
        logging.getLogger("benchmarks.tuners").error("tuner error in %s", line)
    if trials.empty:
        print("no trials were run (every tuner failed to start)", file=sys.stderr)
        return 1
    plots = not args.no_plots and (args.plots or not args.quick)
    _, summary, comparison = write_report(trials, budgets, out, plots=plots)
    env |= {"seconds": f"{elapsed:.1f}", "workers": str(args.workers)}
    (out / "environment.json").write_text(json.dumps(env, indent=1))
    print((out / "summary.md").read_text())
    print((out / "comparison.md").read_text())
    print(f"{len(specs)} runs, {len(trials)} trials in {elapsed:.1f} s; outputs in {out}")
    print(json.dumps(figures(summary, comparison)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
