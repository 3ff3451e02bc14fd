"""Tune as you scale: the configuration to run at a 10-100x larger budget, from a small sweep.

``recommend(table, budgets, space=None)`` / ``python -m scaling recommend SRC --budget C``.

For each budget C:

1. every tuned numeric hyperparameter gets its power law along the sweep's Pareto front (fitted
   in its own space: log, logit or linear, with bootstrap intervals); with ``laws="surface"``
   (default) its value is the optimum of a loss surface fitted to every trial
   (:mod:`scaling.surface`), whose optimum moves as a power law of N and D (or of the cost);
   when the trials pin the optimum but not its trend, the optimum at the largest scale swept;
   when the loss is flat in it, the front law's value at the largest cost;
   categoricals take the choice that dominates the expensive half of the front;
2. the budget is spent exactly: with ``metric.params`` (N) and ``metric.tokens`` (D) in the
   table, the parameters that set N (learned from the trials, see :mod:`scaling.sizing`) move
   jointly from their laws' values until N equals the allocation followed (``follow``:
   ``"chinchilla"``, the default: Approach 3, else 2, else 1, fitted on every run; or ``"front"``:
   the Pareto front's own law of N), and the tokens parameters give D = C / (6 N); the
   allocation of every approach is reported next to it. Without N / D, the parameters that set
   the cost move jointly until the cost model equals C;
3. values are rounded (integers, ``rounding_factor``) and clamped to the sweep's bounds (read
   from the journal's ``meta`` table); the size / tokens / cost parameters stay inside them too
   while the others can still spend the budget (depth pinned at its max, width grows); when
   they cannot, ``clamp="auto"`` lets them past their max (a 100x budget often needs that) and
   lists them in ``outside_search_space``;
4. the predicted objective comes from the front's law (``E + A C^-alpha`` when minimising a
   positive loss), with its bootstrap interval; ``extrapolation_decades`` says how far C lies
   beyond the front.

Bad input (fewer than 4 front points, a budget below the cheapest run, a hyperparameter
constant along the front, a sweep directory without a search space) raises
:class:`RecommendError`; the CLI prints ``error: ...`` and exits with status 2.
Fit warnings (:mod:`scaling.diagnostics`) are logged and kept in ``diagnostics``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sqlite3
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scaling import diagnostics
from scaling._recommend import (
    BudgetRecommendation,
    Builder,
    RecommendError,
    format_table,
)
from scaling.diagnostics import Diagnostic
from scaling.frontier import pareto_front
from scaling.io import load_table, ok_rows, require_columns
from scaling.powerlaw import PowerLawFit, extrapolation_decades
from scaling.saturating import SaturatingFit, fit_frontier_law
from scaling.searchspace import hydra_job, load_space_file, parse_space, read_journal_meta
from tays import Param, atomic_write_text, format_override, jsonable, param_to_spec

logger = logging.getLogger("scaling.recommend")

__all__ = [
    "FOLLOW",
    "BudgetRecommendation",
    "RecommendError",
    "Recommendation",
    "main",
    "recommend",
]

FOLLOW = ("chinchilla", "front")
CLAMP = ("auto", "all", "none")
LAWS = ("surface", "front")
#: Fewest Pareto-front points a recommendation accepts.
MIN_FRONT_POINTS = 4


@dataclass
class Recommendation:
    """What :func:`recommend` returns: one :class:`BudgetRecommendation` per budget."""

    source: str
    cost_column: str
    output_column: str
    direction: str
    follow: str
    follow_reason: str
    recommendations: list[BudgetRecommendation]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    space: dict[str, Param] | None = None
    n_front: int = 0
    front_costs: tuple[float, float] = (math.nan, math.nan)
    sweep: dict = field(default_factory=dict)
    """objective / direction / cost_key / name of the source sweep (from its journal)."""
    sweep_config: str | None = None
    fixed_overrides: list[str] = field(default_factory=list)
    command_prefix: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    """target -> the learned formula (e.g. metric.params from model.d_model, model.n_layers)."""
    front: pd.DataFrame | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """recommendation.json: the contract keys plus the context behind the numbers."""
        return jsonable({
            "source": self.source, "cost_column": self.cost_column,
            "recommendations": [r.to_dict() for r in self.recommendations],
            "output_column": self.output_column, "direction": self.direction,
            "follow": self.follow, "follow_reason": self.follow_reason,
            "front": {"n_points": self.n_front, "cost_min": self.front_costs[0],
                      "cost_max": self.front_costs[1]},
            "search_space": None if self.space is None else {
                n: param_to_spec(p) for n, p in self.space.items()},
            "models": self.models,
            "diagnostics": [d.to_dict() for d in self.diagnostics], "notes": self.notes})

    def write(self, out: str | Path) -> Path:
        """Write ``out/recommendation.json`` (standard JSON: no NaN); returns its path."""
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise RecommendError(f"--out {out} is a file; give a directory")
        out.mkdir(parents=True, exist_ok=True)
        path = out / "recommendation.json"
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")
        return path

    def format_table(self) -> str:
        """The human-readable summary printed by the CLI."""
        return format_table(self)

    def next_sweep_yaml(self, **kwargs) -> str:
        """A ``conf/sweep``-style YAML around this recommendation (see
        :func:`scaling.nextsweep.next_sweep_yaml` for the arguments)."""
        from scaling.nextsweep import next_sweep_yaml

        return next_sweep_yaml(self, **kwargs)


# --- inputs -------------------------------------------------------------------------------
def _parse_budgets(budgets, cost_max: float) -> list[float]:
    if isinstance(budgets, (str, int, float, np.number)):
        budgets = [budgets]
    out = []
    for b in budgets:
        text = str(b).strip()
        try:
            value = float(text[:-1]) * cost_max if text.lower().endswith("x") else float(text)
        except ValueError:
            raise RecommendError(f"budget {b!r} is not a number (use e.g. 1e19, or 10x for "
                                 f"ten times the sweep's largest cost)") from None
        if not (math.isfinite(value) and value > 0):
            raise RecommendError(f"budget {b!r} must be a finite number > 0")
        out.append(value)
    if not out:
        raise RecommendError("give at least one budget (--budget 1e19, or --budget 10x)")
    return out


def _resolve_space(table, space, meta) -> tuple[dict[str, Param] | None, str]:
    """The search space and where it came from; a sweep directory / journal must have one."""
    if space is not None:
        if isinstance(space, (str, Path)):
            return parse_space(load_space_file(space)), f"file {space}"
        return parse_space(space), "argument"
    if meta and meta.get("space"):
        return parse_space(meta["space"]), f"journal {meta['_journal']}"
    if not isinstance(table, pd.DataFrame):
        path = Path(table)
        if path.is_dir() or path.suffix.lower() in (".sqlite", ".sqlite3", ".db"):
            raise RecommendError(
                f"{path}: a sweep directory / journal without a search space (its journal has "
                f"no 'meta' table with a 'space' entry, or it holds only an exported table). "
                f"The recommendation rounds and clamps by the sweep's space: pass it with "
                f"--search-space conf/sweep/<name>.yaml, or pass the CSV / Parquet table itself "
                f"to recommend without one (values then neither rounded nor clamped).")
    return None, "none"


# --- the recommendation ----------------------------------------------------------------------
def recommend(
    table: str | Path | pd.DataFrame,
    budgets,
    space: Mapping[str, Any] | str | Path | None = None,
    *,
    cost_column: str = "cost",
    output_column: str = "output",
    direction: str | None = None,
    follow: str = "chinchilla",
    laws: str = "surface",
    fixed: Mapping[str, Any] | None = None,
    clamp: str = "auto",
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    command_prefix: str | None = None,
    min_front_points: int = MIN_FRONT_POINTS,
) -> Recommendation:
    """Recommend a configuration for each budget from a sweep's table (see the module doc).

    Args:
        table: a trial table (DataFrame), a sweep directory, a journal, a CSV or Parquet file.
        budgets: budgets in the unit of ``cost_column``; ``"10x"`` means 10 times the
            largest cost in the table.
        space: the search space (journal-meta or sweep-YAML spelling, or a file holding one);
            default: the journal's. A sweep directory or journal without one is an error.
        cost_column, output_column: the front's axes.
        direction: ``"min"`` / ``"max"``; default the journal's, else ``"min"``.
        follow: the N allocation the size follows: ``"chinchilla"`` (Approach 3, else 2,
            else 1) or ``"front"`` (the front's law of ``metric.params``).
        laws: where the other hyperparameters' optima come from: ``"surface"`` (a quadratic
            loss surface around a moving optimum fitted to every trial, see
            :mod:`scaling.surface`; a parameter whose optimum it cannot pin is held at its front
            law's value at the sweep's largest cost) or ``"front"`` (each parameter's power law
            through the front's points, extrapolated).
        fixed: name -> value (None: the front's value) for parameters to keep fixed.
        clamp: ``"auto"`` (clamp all; the size / tokens / cost parameters go past their max
            only when the budget cannot be spent inside the bounds), ``"all"`` (strictly),
            ``"none"``.
        n_bootstrap, level, seed: bootstrap intervals.
        command_prefix: the command the overrides are appended to (default: from the sweep
            directory's Hydra files, ``python -m <app> <fixed overrides>``).
        min_front_points: fewest front points accepted.

    Raises:
        RecommendError: bad input (the message names the cause and the fix).
    """
    _check_options(follow, clamp, laws, level)
    meta = None if isinstance(table, pd.DataFrame) else read_journal_meta(table)
    specs, space_from = _resolve_space(table, space, meta)
    df = load_table(table, "auto")
    source = df.attrs.get("source", "<DataFrame>")
    direction = _resolve_direction(direction, meta)
    ok, front, budgets = _front_and_budgets(df, source, budgets, cost_column, output_column,
                                            direction, min_front_points)
    fcost = front[cost_column].to_numpy(dtype=float)
    diags: list[Diagnostic] = list(diagnostics.sparse_front(fcost))
    diags += diagnostics.far_extrapolation(budgets, float(fcost.min()), float(fcost.max()))
    notes: list[str] = []
    rec = Builder(df, ok, front, specs, cost_column, fixed or {}, n_bootstrap, level, seed,
                  clamp, notes, diags, laws)
    rec.fit_laws()
    ffit = fit_frontier_law(fcost, front[output_column], direction, n_bootstrap, level, seed,
                            name=output_column, fall_back=True)
    diags += diagnostics.check_fit("frontier", ffit)
    follow_used, follow_reason = rec.fit_budget_models(follow)
    rec.fit_surface(output_column, direction, ffit)
    job = _hydra_job(table, df, meta, rec.names)
    prefix = _command_prefix(command_prefix, job, notes)
    items = _budget_items(rec, ffit, budgets, prefix, fcost)
    diagnostics.log_diagnostics(diags, logger)
    if space_from != "none":
        notes.insert(0, f"search space from the {space_from}")
    return Recommendation(
        source=source, cost_column=cost_column, output_column=output_column,
        direction=direction, follow=follow_used, follow_reason=follow_reason,
        recommendations=items, diagnostics=diags, notes=notes, space=specs,
        n_front=len(front), front_costs=(float(fcost.min()), float(fcost.max())),
        sweep={k: (meta or {}).get(k) for k in ("sweep", "objective", "direction", "cost_key")},
        sweep_config=job.sweep_config if job else None,
        fixed_overrides=list(job.overrides) if job else [], command_prefix=prefix,
        models=rec.model_text, front=front)


def _check_options(follow: str, clamp: str, laws: str, level: float) -> None:
    if follow not in FOLLOW:
        raise RecommendError(f"follow={follow!r}: use one of {FOLLOW}")
    if clamp not in CLAMP:
        raise RecommendError(f"clamp={clamp!r}: use one of {CLAMP}")
    if laws not in LAWS:
        raise RecommendError(f"laws={laws!r}: use one of {LAWS}")
    if not 0 < level < 1:
        raise RecommendError(f"level={level}: use a confidence level in (0, 1)")


def _resolve_direction(direction: str | None, meta: dict | None) -> str:
    """``"min"`` or ``"max"``: the argument, else the journal's, else ``"min"``."""
    if direction is None:
        direction = "max" if str((meta or {}).get("direction", "min")).startswith("max") \
            else "min"
    direction = {"minimize": "min", "maximize": "max"}.get(direction, direction)
    if direction not in ("min", "max"):
        raise RecommendError(f"direction={direction!r}: use 'min' or 'max'")
    return direction


def _front_and_budgets(df: pd.DataFrame, source: str, budgets, cost_column: str,
                       output_column: str, direction: str, min_front_points: int
                       ) -> tuple[pd.DataFrame, pd.DataFrame, list[float]]:
    """The successful trials, the Pareto front and the budgets, checked: enough front points,
    no budget below the cheapest run."""
    require_columns(df, [cost_column, output_column], "a recommendation")
    ok = ok_rows(df, [cost_column, output_column])
    if ok.empty:
        raise RecommendError(f"{source}: no successful trial with a finite {output_column!r} "
                             f"and {cost_column!r}; nothing to recommend from")
    cost_min, cost_max = float(ok[cost_column].min()), float(ok[cost_column].max())
    budgets = _parse_budgets(budgets, cost_max)
    front = pareto_front(df, cost_column, output_column, direction)
    if len(front) < min_front_points:
        raise RecommendError(
            f"{source}: the Pareto front (by {cost_column!r}, "
            f"{'minimising' if direction == 'min' else 'maximising'} {output_column!r}) has "
            f"only {len(front)} point(s); a recommendation needs at least {min_front_points} to "
            f"fit laws that can be extrapolated. Run more trials at different costs (a longer "
            f"sweep), or check --cost-column / --direction.")
    for b in budgets:
        if b < cost_min:
            raise RecommendError(
                f"budget {b:.4g} is below the sweep's cheapest run ({cost_min:.4g} in "
                f"{cost_column!r}): the laws are fitted from {cost_min:.4g} up, and "
                f"extrapolating them downwards is not supported; use a budget of at least "
                f"{cost_min:.4g}, typically 10-100x the largest ({cost_max:.4g}).")
    return ok, front, budgets


def _hydra_job(table, df: pd.DataFrame, meta: dict | None, tuned: list[str]):
    """How a sweep directory's (or journal's) Hydra jobs were launched; None for a table."""
    if not isinstance(table, pd.DataFrame) and (Path(table).is_dir() or meta):
        root = Path(table) if Path(table).is_dir() else Path(table).parent
        return hydra_job(root, df, list(tuned))
    return None


def _command_prefix(given: str | None, job, notes: list[str]) -> str | None:
    """The command the overrides are appended to: the given one, else the Hydra job's."""
    prefix = given
    if prefix is None and job is not None and job.module:
        prefix = " ".join([f"python -m {job.module}", *job.overrides])
    if prefix is None:
        notes.append("the recipe is unknown (no Hydra files next to the table): the command "
                     "holds only the overrides; pass --command-prefix 'python -m recipes.lm "
                     "...' for a full command line")
    return prefix


def _budget_items(rec: Builder, ffit: SaturatingFit | PowerLawFit, budgets: list[float],
                  prefix: str | None, fcost: np.ndarray) -> list[BudgetRecommendation]:
    """One recommendation per budget: the configuration, its command, the front law's
    prediction and how far the budget lies beyond the front."""
    items = []
    with np.errstate(over="ignore", invalid="ignore"):
        pred = ffit.predict(budgets, warn_decades=np.inf)
    for i, b in enumerate(budgets):
        item = rec.at_budget(b)
        overrides = " ".join(format_override(n, v, digits=6) for n, v in item.params.items())
        item.command = f"{prefix} {overrides}" if prefix else overrides
        item.predicted_output = float(pred["value"].iloc[i])
        item.predicted_interval = [float(pred["low"].iloc[i]), float(pred["high"].iloc[i])]
        item.extrapolation_decades = float(extrapolation_decades(
            np.array([b]), float(fcost.min()), float(fcost.max()))[0])
        items.append(item)
    return items


# --- command line ------------------------------------------------------------------------------
def configure_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``recommend`` arguments to ``p`` (the subcommand's parser)."""
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
    p.add_argument("--follow", choices=FOLLOW, default="chinchilla",
                   help="N allocation the model size follows: chinchilla (Approach 3, else 2, "
                        "else 1, fitted on every run) or front (the Pareto front's law of N)")
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
    p.add_argument("--quiet", action="store_true", help="warnings only on stderr")
    return p


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


def run_cli(args: argparse.Namespace) -> int:
    """Run ``recommend`` from parsed arguments; returns the exit status (2 on bad input)."""
    quiet = logging.getLogger("scaling.recommend")  # the table below repeats its warnings
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        rec = recommend(args.src, args.budget, args.search_space, cost_column=args.cost_column,
                        output_column=args.output_column, direction=args.direction,
                        follow=args.follow, laws=args.laws, fixed=_parse_fix(args.fix),
                        clamp=args.clamp,
                        n_bootstrap=args.bootstrap, level=args.level, seed=args.seed,
                        command_prefix=args.command_prefix)
        print(rec.format_table())
        if args.out:
            path = rec.write(args.out)
            print(f"wrote {path}")
        if args.next_sweep:
            from scaling.nextsweep import write_next_sweep

            path, how = write_next_sweep(rec, args.next_sweep, max_trials=args.next_trials)
            print(f"wrote {path}\n{how}")
    except (ValueError, OSError, sqlite3.Error) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        quiet.setLevel(level)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m scaling recommend`` on its own (the same as the subcommand)."""
    parser = configure_parser(argparse.ArgumentParser(
        prog="python -m scaling recommend",
        description="Recommend the configuration for a larger budget from a sweep's Pareto "
                    "front, and optionally the next sweep around it."))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    return run_cli(args)


if __name__ == "__main__":
    sys.exit(main())
