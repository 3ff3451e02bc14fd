"""Copy a sweep's or a benchmark's tables into ``notebooks/data/`` in the form the notebooks read.

    python notebooks/data/ship.py journal multirun/lm_tiny/<dir> notebooks/data/lm_tiny.sqlite
    python notebooks/data/ship.py tuners benchmarks/results/tuners notebooks/data/tuners

``journal``: the sweep's SQLite journal (tables ``trials`` and ``meta``) as one self-contained
file: SQLite's online backup (safe while the sweep runs; the write-ahead log is folded in), rollback
journal mode (no ``-wal``/``-shm`` side files), ``VACUUM``ed. The job folders are not shipped; the
``job_dir`` column keeps their original paths for reference.

``tuners``: a ``python -m benchmarks.tuners`` output folder: ``summary.csv``, ``summary.md``,
``comparison.csv``, ``comparison.md``, ``runs.csv``, ``budgets.json`` and ``environment.json`` as
they are, and ``trials.csv`` as ``trials.csv.gz`` with the columns the convergence plots need (the
trial contract's core columns, the noise-free output, the suggest time, whether ASHA stopped the
run, tuner, problem, seed, trial index and cumulative cost; the ``param.*`` columns of the
problems are left out to keep the file small).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
from pathlib import Path

TUNER_TRIAL_COLUMNS = ("trial_id", "sweep", "status", "output", "cost",
                       "metric.noise_free_output", "metric.suggest_seconds", "metric.pruned",
                       "error", "tuner",
                       "problem", "seed", "trial_index", "cumulative_cost")


def ship_journal(src: Path, dst: Path) -> Path:
    """Back up the journal of ``src`` (a sweep directory or journal file) into ``dst``."""
    src = src / "journal.sqlite" if src.is_dir() else src
    if not src.is_file():
        raise SystemExit(f"error: no journal at {src}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{src.resolve()}?mode=ro", uri=True)
    target = sqlite3.connect(tmp)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
        target.execute("VACUUM")
        target.commit()
    finally:
        target.close()
        source.close()
    tmp.replace(dst)
    return dst


def ship_tuners(src: Path, dst: Path) -> Path:
    """Copy a tuner-benchmark output folder's tables into ``dst`` (trials trimmed, gzipped)."""
    import pandas as pd

    dst.mkdir(parents=True, exist_ok=True)
    for name in ("summary.csv", "summary.md", "comparison.csv", "comparison.md", "runs.csv",
                 "budgets.json", "environment.json"):
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)
        elif name == "summary.csv":
            raise SystemExit(f"error: {src} has no summary.csv")
    trials_src = src / "trials.csv"
    if trials_src.exists():
        trials = pd.read_csv(trials_src, low_memory=False)
        cols = [c for c in TUNER_TRIAL_COLUMNS if c in trials.columns]
        trials[cols].to_csv(dst / "trials.csv.gz", index=False, float_format="%.10g")
    return dst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    for name in ("journal", "tuners"):
        p = sub.add_parser(name)
        p.add_argument("src", type=Path)
        p.add_argument("dst", type=Path)
    args = ap.parse_args(argv)
    out = (ship_journal if args.what == "journal" else ship_tuners)(args.src, args.dst)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
