"""Command line of the carbs package.

    python -m carbs export SWEEP_DIR [--format csv|parquet] [--out FILE]

``export`` writes a sweep's trials (its journal, read-only) as a CSV or Parquet table in the
trial contract, ready for ``python -m scaling report`` or pandas. The demo is
``python -m carbs.demo``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

logger = logging.getLogger("carbs")


def _export(args: argparse.Namespace) -> int:
    from carbs.sweep.journal import JournalError, find_journal, load_trials

    try:
        journal = find_journal(args.sweep)
        df = load_trials(journal)
    except JournalError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else journal.parent / f"trials.{args.format}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if args.format == "csv":
            df.to_csv(out, index=False)
        else:
            df.to_parquet(out, index=False)
    except OSError as e:
        print(f"error: cannot write {out}: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(df)} trials ({(df['status'] == 'ok').sum()} ok, "
          f"{(df['status'] == 'failed').sum()} failed, {(df['status'] == 'running').sum()} "
          f"running) to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m carbs``."""
    ap = argparse.ArgumentParser(prog="python -m carbs", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write a sweep's trials as CSV or Parquet",
                        description="Write a sweep's trials (from its journal) as a table in the "
                                    "trial contract.")
    ex.add_argument("sweep", help="sweep directory (holding journal.sqlite) or journal file")
    ex.add_argument("--format", choices=("csv", "parquet"), default="csv",
                    help="table format (default csv)")
    ex.add_argument("--out", help="output file (default: trials.<format> in the sweep directory)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return _export(args)


if __name__ == "__main__":
    sys.exit(main())
