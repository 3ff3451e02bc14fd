"""``recommend()``: the inputs checked (budgets, search space, direction, the front), the stages
of :class:`~scaling.recommend.builder.Builder` run in order, and one configuration, command
and prediction per budget (see :mod:`scaling.recommend` for how each value is chosen)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scaling import diagnostics
from scaling.bootstrap import check_resamples
from scaling.diagnostics import Diagnostic
from scaling.fits import extrapolation_decades
from scaling.frontier import pareto_front
from scaling.io import load_table, ok_rows, require_columns
from scaling.powerlaw import PowerLawFit
from scaling.recommend.builder import Builder
from scaling.recommend.result import BudgetRecommendation, Recommendation, RecommendError
from scaling.recommend.space import hydra_job, load_space_file, parse_space, read_journal_meta
from scaling.saturating import SaturatingFit, fit_frontier_law
from tays import Param, format_override

logger = logging.getLogger("scaling.recommend")

__all__ = ["CLAMP", "FOLLOW", "LAWS", "MAX_DECADES", "MIN_FRONT_POINTS", "recommend"]

FOLLOW = ("surface", "chinchilla", "front")
CLAMP = ("auto", "all", "none")
LAWS = ("surface", "front")
#: Fewest Pareto-front points a recommendation accepts.
MIN_FRONT_POINTS = 4
#: Decades beyond the sweep's costs past which a budget is refused unless forced.
MAX_DECADES = 6.0
#: Integers a config can hold (int64); a recommended value beyond it cannot be run.
_MAX_INT = 2 ** 63


# --- inputs -------------------------------------------------------------------------------
def _parse_budgets(budgets, cost_max: float, cost_column: str = "cost") -> list[float]:
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
        if text.lower().endswith("x") and not math.isfinite(value) and math.isfinite(
                float(text[:-1])):
            raise RecommendError(
                f"budget {b!r} is {text[:-1]} times the sweep's largest cost ({cost_max:.4g} in "
                f"{cost_column!r}), which overflows a float: the costs are near the float limit "
                f"(1.8e308); rescale the cost column (e.g. FLOPs in PFLOPs) or give the budget as "
                f"a number")
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
    follow: str = "surface",
    laws: str = "surface",
    fixed: Mapping[str, Any] | None = None,
    clamp: str = "auto",
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    command_prefix: str | None = None,
    min_front_points: int = MIN_FRONT_POINTS,
    force: bool = False,
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
        follow: the N allocation the size follows: ``"surface"`` (the loss surface's
            L(N, D), fitted to every trial with the other hyperparameters' parabolas, so their
            penalties do not bias it; with ``laws="surface"`` and N, D in the table, else as
            "chinchilla"), ``"chinchilla"`` (Approach 3 on the raw losses, else 2, else 1) or
            ``"front"`` (the front's law of ``metric.params``).
        laws: where the other hyperparameters' optima come from: ``"surface"`` (a quadratic
            loss surface around a moving optimum fitted to every trial, see
            :mod:`scaling.recommend.surface`; a parameter whose optimum it cannot pin is held at its front
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
        force: recommend for budgets more than :data:`MAX_DECADES` decades beyond the sweep's
            largest run too (refused otherwise).

    Raises:
        RecommendError: bad input (the message names the cause and the fix).
    """
    _check_options(follow, clamp, laws, level, n_bootstrap)
    meta = None if isinstance(table, pd.DataFrame) else read_journal_meta(table)
    specs, space_from = _resolve_space(table, space, meta)
    df = load_table(table, "auto")
    source = df.attrs.get("source", "<DataFrame>")
    direction = _resolve_direction(direction, meta)
    ok, front, budgets = _front_and_budgets(df, source, budgets, cost_column, output_column,
                                            direction, min_front_points, force)
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
    rec.fit_budget_models(follow)
    rec.fit_surface(output_column, direction, ffit)
    follow_used, follow_reason = rec.follow_used
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


def _check_options(follow: str, clamp: str, laws: str, level: float, n_bootstrap: int) -> None:
    if follow not in FOLLOW:
        raise RecommendError(f"follow={follow!r}: use one of {FOLLOW}")
    if clamp not in CLAMP:
        raise RecommendError(f"clamp={clamp!r}: use one of {CLAMP}")
    if laws not in LAWS:
        raise RecommendError(f"laws={laws!r}: use one of {LAWS}")
    if not 0 < level < 1:
        raise RecommendError(f"level={level}: use a confidence level in (0, 1)")
    try:
        check_resamples(n_bootstrap)
    except ValueError as err:
        raise RecommendError(str(err)) from None


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
                       output_column: str, direction: str, min_front_points: int,
                       force: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, list[float]]:
    """The successful trials, the Pareto front and the budgets, checked: enough front points,
    no budget below the cheapest run, none more than :data:`MAX_DECADES` beyond the largest
    unless ``force``."""
    require_columns(df, [cost_column, output_column], "a recommendation")
    ok = ok_rows(df, [cost_column, output_column])
    if ok.empty:
        raise RecommendError(f"{source}: no successful trial with a finite {output_column!r} "
                             f"and {cost_column!r}; nothing to recommend from")
    cost_min, cost_max = float(ok[cost_column].min()), float(ok[cost_column].max())
    budgets = _parse_budgets(budgets, cost_max, cost_column)
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
        beyond = math.log10(b / cost_max) if b > cost_max else 0.0
        if beyond > MAX_DECADES and not force:
            raise RecommendError(
                f"budget {b:.4g} is {beyond:.1f} decades beyond the sweep's largest run "
                f"({cost_max:.4g} in {cost_column!r}): laws fitted over "
                f"{math.log10(cost_max / cost_min):.1f} decade(s) say nothing that far out; "
                f"recommend at most {MAX_DECADES:g} decades beyond (typically 10-100x), sweep "
                f"there and recommend again, or pass --force (force=True) to extrapolate anyway")
    return ok, front, budgets


def _check_representable(item: BudgetRecommendation) -> None:
    """Every value a config can hold: finite, and integers within int64."""
    for n, v in item.params.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if not math.isfinite(v) or (isinstance(v, int) and abs(v) >= _MAX_INT):
            raise RecommendError(
                f"budget {item.budget:.4g}: {n} = {float(v):.4g} cannot be held by a config "
                f"(not finite, or an integer beyond int64): the budget is too far beyond the "
                f"sweep for its laws; use a smaller budget")


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
        try:
            item = rec.at_budget(b)
        except (OverflowError, FloatingPointError) as err:
            raise RecommendError(
                f"budget {b:.4g}: the laws overflow there ({err}); the budget is too far beyond "
                f"the sweep for them; use a smaller budget") from None
        _check_representable(item)
        overrides = " ".join(format_override(n, v, digits=6) for n, v in item.params.items())
        item.command = f"{prefix} {overrides}" if prefix else overrides
        item.predicted_output = float(pred["value"].iloc[i])
        item.predicted_interval = [float(pred["low"].iloc[i]), float(pred["high"].iloc[i])]
        item.extrapolation_decades = float(extrapolation_decades(
            np.array([b]), float(fcost.min()), float(fcost.max()))[0])
        items.append(item)
    return items
