"""Command line: ``python -m scaling report SRC [options]`` and ``python -m scaling recommend
SRC --budget C [options]`` (see ``--help``)."""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys

from scaling.report import ReportConfig, run_report


def _space(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--space {text!r}: use NAME=SPACE, e.g. lr=log")
    name, space = text.split("=", 1)
    return name, space


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m scaling``."""
    parser = argparse.ArgumentParser(
        prog="python -m scaling",
        description="Scaling-law fits over sweep tables (Pareto-front power laws, Chinchilla "
                    "approaches 1-3).")
    sub = parser.add_subparsers(dest="command", required=True)
    _configure_report(sub.add_parser(
        "report", help="fit, plot and summarise a sweep table",
        description="Run every fit the table's columns allow and write PNG plots, summary.md, "
                    "summary.csv and summary.json into the output directory.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter))
    from scaling.recommend import configure_parser

    configure_parser(sub.add_parser(
        "recommend", help="the configuration for a larger budget, from a sweep's front",
        description="Recommend every hyperparameter for each --budget from the sweep's Pareto "
                    "front and trials (spending the budget: 6ND = C), with intervals, a ready "
                    "command line, recommendation.json (--out) and the next sweep's YAML "
                    "(--next-sweep).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter))
    return parser


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


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)
    if args.command == "recommend":
        from scaling.recommend import run_cli

        logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s")
        return run_cli(args)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
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


if __name__ == "__main__":
    sys.exit(main())
