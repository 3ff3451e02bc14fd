"""The command line of :mod:`scaling`, both subcommands: ``python -m scaling report SRC [options]``
(fits, plots and a summary of a sweep table) and ``python -m scaling recommend SRC --budget C
[options]`` (the configuration for a larger budget, and the next sweep). See ``--help``."""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any

from scaling.recommend.api import CLAMP, FOLLOW, LAWS, recommend
from scaling.recommend.nextsweep import write_next_sweep
from scaling.recommend.result import RecommendError
from scaling.report import ReportConfig, run_report

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m scaling``."""
    parser = argparse.ArgumentParser(
        prog="python -m scaling",
        description="Scaling-law fits over sweep tables (Pareto-front power laws, Chinchilla "
                    "approaches 1-3), and the configuration for a larger budget.")
    sub = parser.add_subparsers(dest="command", required=True)
    _configure_report(sub.add_parser(
        "report", help="fit, plot and summarise a sweep table",
        description="Run every fit the table's columns allow and write PNG plots, summary.md, "
                    "summary.csv and summary.json into the output directory.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter))
    _configure_recommend(sub.add_parser(
        "recommend", help="the configuration for a larger budget, from a sweep's front",
        description="Recommend every hyperparameter for each --budget from the sweep's Pareto "
                    "front and trials (spending the budget: 6ND = C), with intervals, a ready "
                    "command line, recommendation.json (--out) and the next sweep's YAML "
                    "(--next-sweep).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)
    if args.command == "recommend":
        logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s")
        return _run_recommend(args)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    return _run_report(args)


# --- report ---------------------------------------------------------------------------------
def _space(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--space {text!r}: use NAME=SPACE, e.g. lr=log")
    name, space = text.split("=", 1)
    return name, space


def _configure_report(rep: argparse.ArgumentParser) -> None:
    """The ``report`` subcommand's arguments."""
    rep.add_argument("src", help="trial table: SQLite journal (.sqlite/.db with a 'trials' "
                     "table), .csv, .parquet, or a sweep directory (searched for journal.sqlite, "
                     "journal.db, *.sqlite, *.sqlite3, *.db, trials.parquet, *.parquet, "
                     "trials.csv, *.csv, top level first)")
    rep.add_argument("--out", default=None, help="output directory, owned by the report: it "
                     "is replaced as a whole when the new report is complete, so it must be new, "
                     "empty or an earlier report (default: <stem>_scaling next to a file, "
                     "<dir>/scaling for a sweep directory; ./<stem>_scaling when that place is "
                     "read-only)")
    rep.add_argument("--cost-column", default="cost", help="cost column for the Pareto front "
                     "and its laws, e.g. cost, metric.flops, metric.wall_seconds")
    rep.add_argument("--output-column", default="output", help="objective column")
    rep.add_argument("--direction", choices=["min", "max"], default="min",
                     help="whether a lower (min, e.g. loss) or higher (max, e.g. reward) "
                          "output is better")
    rep.add_argument("--bootstrap", type=int, default=1000,
                     help="bootstrap resamples for confidence intervals (0: none)")
    rep.add_argument("--seed", type=int, default=0, help="bootstrap RNG seed")
    rep.add_argument("--level", type=float, default=0.95, help="confidence level of intervals")
    rep.add_argument("--format", choices=["auto", "contract", "epoch"], default="auto",
                     help="table format: 'auto' detects Epoch AI's Chinchilla CSV (columns "
                          "'Model Size', 'Training FLOP', 'loss'); 'contract' = trial table")
    rep.add_argument("--space", action="append", type=_space, default=[], metavar="NAME=SPACE",
                     help="basic space of a hyperparameter's law: log, linear or logit "
                          "(repeatable; default log for positive values, else linear)")
    rep.add_argument("--drop-highest", type=int, default=None,
                     help="Approach 3: drop this many highest-loss runs first (default: 5 for "
                          "Epoch's Chinchilla table, as in their replication; else 0)")
    rep.add_argument("--isoflop-tol", type=float, default=0.1,
                     help="Approach 2: relative gap in compute that separates IsoFLOP budgets")
    rep.add_argument("--budget", type=float, action="append", default=[], metavar="C",
                     help="cost / compute budget at which to predict (repeatable; default 10x "
                          "and 100x the largest cost in the data)")
    rep.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    rep.add_argument("--max-param-plots", type=int, default=12, metavar="N",
                     help="plot (and tabulate predictions of) the N param.* laws with the "
                          "strongest trend; every law is in summary.json / summary.csv")
    rep.add_argument("--all-params", action="store_true",
                     help="plot and tabulate every param.* law (overrides --max-param-plots)")
    rep.add_argument("--quiet", action="store_true", help="no progress bars, warnings only")
    rep.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _run_report(args: argparse.Namespace) -> int:
    """``report`` from parsed arguments; returns the exit status (2 on bad input)."""
    try:
        cfg = ReportConfig(src=args.src, out=args.out, cost_column=args.cost_column,
                           output_column=args.output_column, direction=args.direction,
                           n_bootstrap=args.bootstrap, seed=args.seed, level=args.level,
                           format=args.format, spaces=dict(args.space),
                           drop_highest=args.drop_highest, isoflop_tol=args.isoflop_tol,
                           budgets=args.budget, plots=not args.no_plots,
                           progress=not args.quiet,
                           max_param_plots=None if args.all_params else args.max_param_plots)
        records = run_report(cfg)
    except (ValueError, OSError, sqlite3.Error) as err:  # bad input: a message, not a traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    for rec in records:
        params = ", ".join(f"{k}={v:.4g}" for k, v in rec["params"].items())
        print(f"{rec['fit']:<18} n={rec['n_points']:<4} {params}")
    return 0


# --- recommend ------------------------------------------------------------------------------
def _configure_recommend(p: argparse.ArgumentParser) -> None:
    """The ``recommend`` subcommand's arguments."""
    p.add_argument("src", help="sweep directory (its journal.sqlite gives the search space), "
                   "journal, CSV or Parquet trial table")
    p.add_argument("--budget", action="append", required=True, metavar="C",
                   help="budget in the cost column's unit, e.g. 1e19, or 10x (ten times the "
                        "largest cost in the table); repeatable")
    p.add_argument("--out", default=None, help="write DIR/recommendation.json")
    p.add_argument("--cost-column", default="cost", help="cost column of the front and budgets")
    p.add_argument("--output-column", default="output", help="objective column")
    p.add_argument("--direction", choices=["min", "max"], default=None,
                   help="lower or higher output is better (default: the journal's, else min)")
    p.add_argument("--follow", choices=FOLLOW, default="surface",
                   help="N allocation the model size follows: surface (the loss surface's "
                        "L(N, D), fitted to every run with the other hyperparameters' "
                        "parabolas), chinchilla (Approach 3 on the raw losses, else 2, else 1) "
                        "or front (the Pareto front's law of N)")
    p.add_argument("--laws", choices=LAWS, default="surface",
                   help="other hyperparameters' optima: surface (a quadratic loss surface "
                        "around a moving optimum, fitted to every trial) or front (a power law "
                        "through the Pareto front's points)")
    p.add_argument("--next-sweep", default=None, metavar="PATH",
                   help="write a conf/sweep-style YAML centred on the recommendation")
    p.add_argument("--next-trials", type=int, default=32,
                   help="max_trials of the next sweep")
    p.add_argument("--command-prefix", default=None,
                   help="command the overrides are appended to (default: from the sweep "
                        "directory's Hydra files, e.g. 'python -m recipes.lm +sweep=lm_tiny')")
    p.add_argument("--search-space", default=None, metavar="FILE",
                   help="search space (conf/sweep YAML or JSON) for a table without a journal")
    p.add_argument("--fix", action="append", default=[], metavar="NAME[=VALUE]",
                   help="keep a hyperparameter fixed (default value: the front's); repeatable")
    p.add_argument("--clamp", choices=CLAMP, default="auto",
                   help="clamp to the sweep's bounds: auto (all; size / tokens / cost "
                        "parameters go past their max only when the budget cannot be spent "
                        "inside), all (strictly, even if the budget is not spent), none")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--level", type=float, default=0.95, help="confidence level of intervals")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--force", action="store_true",
                   help="recommend for budgets more than 6 decades beyond the sweep's largest run "
                        "too (refused otherwise)")
    p.add_argument("--quiet", action="store_true", help="warnings only on stderr")


def _parse_fix(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not name:
            raise RecommendError(f"--fix {item!r}: use NAME or NAME=VALUE")
        if not sep:
            out[name] = None
            continue
        try:
            out[name] = json.loads(value)
        except ValueError:
            out[name] = value
    return out


def _run_recommend(args: argparse.Namespace) -> int:
    """``recommend`` from parsed arguments; returns the exit status (2 on bad input)."""
    quiet = logging.getLogger("scaling.recommend")  # the table below repeats its warnings
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        rec = recommend(args.src, args.budget, args.search_space, cost_column=args.cost_column,
                        output_column=args.output_column, direction=args.direction,
                        follow=args.follow, laws=args.laws, fixed=_parse_fix(args.fix),
                        clamp=args.clamp,
                        n_bootstrap=args.bootstrap, level=args.level, seed=args.seed,
                        command_prefix=args.command_prefix, force=args.force)
        print(rec.format_table())
        if args.out:
            path = rec.write(args.out)
            print(f"wrote {path}")
        if args.next_sweep:
            path, how = write_next_sweep(rec, args.next_sweep, max_trials=args.next_trials)
            print(f"wrote {path}\n{how}")
    except (ValueError, OSError, sqlite3.Error) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        quiet.setLevel(level)
    return 0
