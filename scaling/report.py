"""`python -m scaling report SRC`: every fit the table's columns allow, plots and a summary.

Fits (each becomes one record of ``summary.json``):
* ``frontier``: the Pareto front's law (always): L(C) = E + A C^-alpha when minimising a
  positive output, else a power law of the output (log space when positive, else linear);
* ``param:<name>``: a power law per numeric ``param.*`` column along the front (all fitted at
  once); plots and prediction tables for the ``max_param_plots`` parameters with the
  strongest trend (highest R^2; ``--all-params`` for every one);
* ``approach1`` / ``approach2`` / ``approach3``: Chinchilla's approaches, when the table has
  ``metric.params`` and ``metric.tokens`` or ``metric.flops``.
Fits the data cannot support, or whose result is not finite, are skipped with a logged reason
(except the frontier law, whose failure is an error). ``summary.json`` is standard JSON (no
NaN / Infinity). The output directory is checked before anything is fitted, and the report is
written into a staging directory that replaces the previous report only when complete (see
:mod:`scaling.outdir`).
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from scaling import chinchilla, diagnostics, plots
from scaling.bootstrap import check_resamples
from scaling.fits import FitError
from scaling.frontier import pareto_front
from scaling.io import describe_unusable, load_table, ok_rows, require_columns
from scaling.outdir import staged_report_dir, writable
from scaling.powerlaw import SPACES, fit_power_laws
from scaling.saturating import fit_frontier_law

logger = logging.getLogger(__name__)

#: Runs Epoch AI's replication drops (highest loss) before fitting Approach 3.
EPOCH_DROP_HIGHEST = 5


@dataclass
class ReportConfig:
    """Options of :func:`run_report` (the CLI's flags)."""

    src: str | Path | pd.DataFrame
    out: str | Path | None = None
    cost_column: str = "cost"
    output_column: str = "output"
    direction: str = "min"
    n_bootstrap: int = 1000
    seed: int = 0
    level: float = 0.95
    format: str = "auto"
    spaces: dict[str, str] = field(default_factory=dict)
    drop_highest: int | None = None
    isoflop_tol: float = 0.1
    budgets: list[float] = field(default_factory=list)
    plots: bool = True
    progress: bool = True
    max_param_plots: int | None = 12
    """Plots and prediction tables for this many ``param.*`` laws, strongest trend first
    (``None``: all of them; every law is in summary.json / summary.csv regardless)."""

    def __post_init__(self) -> None:
        if self.direction not in ("min", "max"):
            raise ValueError(f"direction={self.direction!r}: use 'min' or 'max'.")
        check_resamples(self.n_bootstrap)
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"level={self.level}: use a confidence level in (0, 1), e.g. 0.95.")
        if self.format not in ("auto", "contract", "epoch"):
            raise ValueError(f"format={self.format!r}: use 'auto', 'contract' or 'epoch'.")
        for name, space in self.spaces.items():
            if space not in SPACES:
                raise ValueError(f"spaces[{name!r}]={space!r}: use one of {SPACES}.")
        if self.drop_highest is not None and self.drop_highest < 0:
            raise ValueError(f"drop_highest={self.drop_highest}: use 0 or more runs.")
        if self.isoflop_tol <= 0:
            raise ValueError(f"isoflop_tol={self.isoflop_tol}: use a positive relative "
                             f"tolerance, e.g. 0.1.")
        if any(not b > 0 or not math.isfinite(b) for b in self.budgets):
            raise ValueError(f"budgets={self.budgets}: prediction budgets must be finite "
                             f"and > 0.")
        if self.max_param_plots is not None and self.max_param_plots < 0:
            raise ValueError(f"max_param_plots={self.max_param_plots}: use 0 or more (or "
                             f"None / --all-params for all).")


def default_out_dir(src: str | Path) -> Path:
    """``<parent>/<stem>_scaling`` for a file, ``<sweep dir>/scaling`` for a sweep directory;
    ``./<stem>_scaling`` when that place is not writable (e.g. a read-only data folder)."""
    src = Path(src)
    out = src / "scaling" if src.is_dir() else src.parent / f"{src.stem}_scaling"
    parent = out if out.exists() else out.parent
    if not writable(parent):
        fallback = Path.cwd() / f"{src.stem if src.is_file() else src.name}_scaling"
        logger.warning("%s is not writable; writing the report to %s", parent, fallback)
        return fallback
    return out


def _record(fit: str, params: dict, ci: dict, n_points: int) -> dict | None:
    """One summary.json object, or None (logged) when a parameter is not a finite number."""
    clean = {k: float(v) for k, v in params.items()}
    bad = [k for k, v in clean.items() if not math.isfinite(v)]
    if bad:
        logger.warning("%s skipped: fitted %s not finite (%s)", fit, ", ".join(bad),
                       ", ".join(f"{k}={clean[k]}" for k in bad))
        return None
    return {"fit": fit, "params": clean,
            "ci": {k: [float(v[0]), float(v[1])] for k, v in ci.items()
                   if np.isfinite(v[0]) and np.isfinite(v[1])},
            "n_points": int(n_points)}


def _frontier_fit(front, cfg, usage: str):
    cost = front[cfg.cost_column].to_numpy(dtype=float)
    out = front[cfg.output_column].to_numpy(dtype=float)
    if len(front) < 3:
        raise FitError(f"too few Pareto-front points to fit: {len(front)} (cost column "
                       f"{cfg.cost_column!r}, output {cfg.output_column!r}; {usage}); need 3+, "
                       f"so run more configurations at different costs.")
    return fit_frontier_law(cost, out, cfg.direction, cfg.n_bootstrap, cfg.level, cfg.seed,
                            name=cfg.output_column)


def _param_fits(front, cfg) -> dict:
    """Power laws of the numeric, varying ``param.*`` columns along the front (all at once),
    strongest trend (R^2) first."""
    values, spaces = {}, {}
    cols = [c for c in front.columns if c.startswith("param.")]
    numeric = [c for c, dtype in zip(front.columns, front.dtypes)
               if c.startswith("param.") and pd.api.types.is_numeric_dtype(dtype)]
    block = dict(zip(numeric, front[numeric].to_numpy(dtype=float).T)) if numeric else {}
    for col in cols:
        name = col[len("param."):]
        vals = block[col] if col in block else pd.to_numeric(
            front[col], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(vals)):
            logger.info("param:%s skipped (non-numeric or missing values along the front)", name)
            continue
        if vals.min() == vals.max():
            logger.info("param:%s skipped (constant along the front)", name)
            continue
        values[name] = vals
        spaces[name] = cfg.spaces.get(name) or cfg.spaces.get(col) or (
            "log" if np.all(vals > 0) else "linear")
    if not values:
        return {}
    cost = front[cfg.cost_column].to_numpy(dtype=float)
    try:
        results = fit_power_laws(cost, values, spaces, cfg.n_bootstrap, cfg.level, cfg.seed)
    except FitError as err:
        logger.warning("param laws skipped: %s", err)
        return {}
    fits = {}
    for name, fit in results.items():
        if isinstance(fit, FitError):
            logger.warning("param:%s skipped: %s", name, _err_text(fit, name))
        else:
            fits[name] = fit
    strength = {n: f.r_squared if math.isfinite(f.r_squared) else -1.0 for n, f in fits.items()}
    return dict(sorted(fits.items(), key=lambda kv: -strength[kv[0]]))


def _err_text(err: Exception, name: str) -> str:
    """The error's text without a leading ``<name>: `` (the caller names the fit)."""
    text = str(err)
    return text[len(name) + 2:] if text.startswith(f"{name}: ") else text


def _chinchilla_fits(table, cfg):
    has = "metric.params" in table.columns and (
        "metric.tokens" in table.columns or "metric.flops" in table.columns)
    if not has:
        logger.info("Chinchilla approaches skipped: need metric.params and metric.tokens or "
                    "metric.flops columns")
        return {}, None
    data = chinchilla.chinchilla_data(table)
    fits: dict = {}
    steps = (
        ("approach1", lambda: chinchilla.fit_approach1(table, None, cfg.n_bootstrap, cfg.level,
                                                       cfg.seed)),
        ("approach2", lambda: chinchilla.fit_approach2(table, cfg.isoflop_tol, 3,
                                                       cfg.n_bootstrap, cfg.level, cfg.seed)),
        ("approach3", lambda: chinchilla.fit_approach3(table, cfg.drop_highest, cfg.n_bootstrap,
                                                       cfg.level, cfg.seed,
                                                       progress=cfg.progress)),
    )
    for name, run in steps:
        try:
            fits[name] = run()
        except (FitError, ValueError) as err:
            logger.warning("%s skipped: %s", name, err)
    return fits, data


def _markdown(cfg, table, front, records, extras, usage: str, brief: list[str]) -> str:
    src = cfg.src if not isinstance(cfg.src, pd.DataFrame) else "<DataFrame>"
    lines = [f"# Scaling report: {src}", "",
             (f"{len(table)} rows ({usage}), Pareto front of {len(front)} points by "
              f"`{cfg.cost_column}` ({'minimising' if cfg.direction == 'min' else 'maximising'} "
              f"`{cfg.output_column}`); intervals: {int(cfg.level * 100)}% bootstrap "
              f"({cfg.n_bootstrap} resamples)."), "",
             ("Prediction tables: `extrapolation_decades` is how far a budget lies outside the "
              "fitted cost range; beyond about one decade, treat the intervals as optimistic."),
             ""]
    by_fit = {r["fit"]: r for r in records}
    detailed = [r for r in records if r["fit"] not in brief]
    for rec in detailed:
        lines += [f"## {rec['fit']} ({rec['n_points']} points)", "",
                  "| parameter | value | low | high |", "|---|---|---|---|"]
        for k, v in rec["params"].items():
            lo, hi = rec["ci"].get(k, [float("nan")] * 2)
            lines.append(f"| {k} | {v:.6g} | {lo:.6g} | {hi:.6g} |")
        lines.append("")
        if rec["fit"] in extras:
            lines += [extras[rec["fit"]].to_markdown(index=False, floatfmt=".4g")
                      if _has_tabulate() else extras[rec["fit"]].to_string(index=False), ""]
    if brief:
        lines += [(f"## Other parameter laws ({len(brief)}, weaker trends; `--all-params` for "
                   f"their plots and prediction tables)"), "",
                  "| fit | points | law | interval |", "|---|---|---|---|"]
        for name in brief:
            rec = by_fit[name]
            law = ", ".join(f"{k}={v:.4g}" for k, v in rec["params"].items())
            ci = ", ".join(f"{k} [{lo:.4g}, {hi:.4g}]" for k, (lo, hi) in rec["ci"].items())
            lines.append(f"| {name} | {rec['n_points']} | {law} | {ci} |")
        lines.append("")
    return "\n".join(lines)


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def _plot(what: str, draw, *args) -> Path | None:
    """Draw one PNG; a plot that fails (e.g. matplotlib's "Singular matrix" on extreme values)
    is skipped with the reason instead of aborting the report."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow in extreme bands
            return draw(*args)
    except Exception as err:  # noqa: BLE001  (one bad plot never loses the whole report)
        logger.warning("plot of %s skipped: %s: %s", what, type(err).__name__, err)
        return None


def _resolve_out(cfg: ReportConfig) -> Path:
    if cfg.out is not None:
        return Path(cfg.out).expanduser().resolve()
    if isinstance(cfg.src, pd.DataFrame):
        return Path.cwd() / "scaling_report"
    return default_out_dir(cfg.src).resolve()


def run_report(cfg: ReportConfig) -> list[dict]:
    """Run every supported fit, write plots and summaries into the output dir; return records.

    The output directory is checked first (a ValueError names it when it is a file, read-only,
    or holds other files); the report is staged and swapped in whole (see
    :mod:`scaling.outdir`).
    """
    out = _resolve_out(cfg)
    source = "<DataFrame>" if isinstance(cfg.src, pd.DataFrame) else str(cfg.src)
    with staged_report_dir(out, source) as stage:
        records = _run(cfg, stage)
    logger.info("wrote %s (%d fits)", out, len(records))
    return records


def _run(cfg: ReportConfig, out: Path) -> list[dict]:
    table, source, usage = _load(cfg)
    front = pareto_front(table, cfg.cost_column, cfg.output_column, cfg.direction)
    ok = ok_rows(table, [cfg.cost_column, cfg.output_column])[[cfg.cost_column,
                                                                 cfg.output_column]]
    cmax = float(ok[cfg.cost_column].max()) if len(ok) else 1.0
    budgets = np.asarray(cfg.budgets or [cmax * 10, cmax * 100], dtype=float)
    records, extras, brief = [], {}, []
    ffit = _frontier_fit(front, cfg, f"{source}: {usage}")
    rec = _record("frontier", ffit.params, ffit.ci, ffit.n_points)
    if rec is None:
        raise FitError(f"the frontier law of {source} is not finite ({ffit.params}); check the "
                       f"{cfg.cost_column!r} and {cfg.output_column!r} columns for extreme values.")
    records.append(rec)
    extras["frontier"] = ffit.predict(budgets, warn_decades=np.inf)
    if cfg.plots:
        _plot("the frontier", plots.plot_front, ok, front, ffit, cfg.cost_column,
              cfg.output_column, out / "frontier.png")
    pfits = _param_fits(front, cfg)
    records += _param_records(cfg, front, pfits, budgets, extras, brief, out)
    cfits = _chinchilla_records(_with_drop_highest(cfg, table), table, budgets, records, extras,
                                out)
    diags = _diagnostics(front, cfg.cost_column, budgets, ffit, pfits, cfits)
    _write_summaries(out, cfg, table, front, records, extras, usage, brief, diags)
    return records


def _load(cfg: ReportConfig) -> tuple[pd.DataFrame, str, str]:
    """The table, its name and which rows the fits use (logged when some are left out)."""
    table = load_table(cfg.src, cfg.format)
    source = table.attrs.get("source", "the table")
    require_columns(table, [cfg.cost_column, cfg.output_column], f"the scaling report of {source}")
    n_ok, usage = describe_unusable(table, [cfg.cost_column, cfg.output_column])
    if n_ok < len(table):
        n_status = int((table["status"].astype(str) != "ok").sum()) if "status" in table else 0
        # failed trials are routine; rows dropped for bad values are worth a warning
        level = logging.INFO if n_ok + n_status == len(table) else logging.WARNING
        logger.log(level, "%s: using %d of %d rows; %s", source, n_ok, len(table), usage)
    return table, source, usage


def _param_records(cfg, front, pfits, budgets, extras, brief, out: Path) -> list[dict]:
    """The parameter laws' records in the table's column order; prediction tables and plots
    for the ``cfg.max_param_plots`` strongest trends, the others listed in ``brief``."""
    limit = len(pfits) if cfg.max_param_plots is None else cfg.max_param_plots
    param_records = {}
    for rank, (name, fit) in enumerate(pfits.items()):
        rec = _record(f"param:{name}", fit.params, fit.ci, fit.n_points)
        if rec is None:
            continue
        param_records[name] = rec
        if rank >= limit:
            brief.append(rec["fit"])
            continue
        with np.errstate(over="ignore", invalid="ignore"):  # steep laws overflow at 100x
            extras[rec["fit"]] = fit.predict(budgets, warn_decades=np.inf)
        if cfg.plots:
            safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
            _plot(f"param:{name}", plots.plot_param_law, front, f"param.{name}", fit,
                  cfg.cost_column, out / f"param_{safe}.png")
    if brief:
        logger.info("%d more param laws in summary.json without plots (only the %d strongest "
                    "trends are plotted; use --all-params for all)", len(brief), limit)
    # summary.json keeps the table's column order
    return [param_records[c[len("param."):]] for c in front.columns
            if c.startswith("param.") and c[len("param."):] in param_records]


def _with_drop_highest(cfg: ReportConfig, table: pd.DataFrame) -> ReportConfig:
    """``cfg`` with ``drop_highest`` set: Epoch's replication drops its 5 highest-loss runs."""
    if cfg.drop_highest is not None:
        return cfg
    epoch = table.attrs.get("format") == "epoch"
    if epoch:
        logger.info("Epoch table: Approach 3 drops the %d highest-loss runs, as in the "
                    "replication (override with --drop-highest)", EPOCH_DROP_HIGHEST)
    return replace(cfg, drop_highest=EPOCH_DROP_HIGHEST if epoch else 0)


def _chinchilla_records(cfg, table, budgets, records, extras, out: Path) -> dict:
    """Approaches 3, 2, 1: their records and compute-optimal tables (fits that are not finite
    are dropped), and their plot; returns the fits kept."""
    cfits, data = _chinchilla_fits(table, cfg)
    chin_budgets = budgets if cfg.budgets or data is None else np.asarray(
        [float(data["C"].max()) * 10, float(data["C"].max()) * 100])
    for name in ("approach3", "approach2", "approach1"):
        if name in cfits:
            fit = cfits[name]
            rec = _record(name, fit.params, fit.ci, fit.n_points)
            if rec is None:
                del cfits[name]
                continue
            records.append(rec)
            extras[name] = fit.compute_optimal(chin_budgets, warn_decades=np.inf)
    if cfg.plots and cfits:
        _plot("the Chinchilla approaches", plots.plot_chinchilla, data, cfits,
              out / "chinchilla.png")
    return cfits


def _diagnostics(front: pd.DataFrame, cost_column: str, budgets: np.ndarray, ffit,
                 pfits: dict, cfits: dict) -> list:
    """Every fit warning (:mod:`scaling.diagnostics`), logged."""
    fcost = front[cost_column].to_numpy(dtype=float)
    diags = diagnostics.sparse_front(fcost)
    diags += diagnostics.far_extrapolation(budgets, float(fcost.min()), float(fcost.max()))
    diags += diagnostics.check_fit("frontier", ffit)
    for name, fit in pfits.items():
        diags += diagnostics.check_fit(f"param:{name}", fit)
        diags += diagnostics.outliers(f"param:{name}", front[f"param.{name}"], fit.space)
    for name, fit in cfits.items():
        diags += diagnostics.check_fit(name, fit)
    diagnostics.log_diagnostics(diags, logger)
    return diags


def _write_summaries(out: Path, cfg, table, front, records, extras, usage, brief,
                     diags) -> None:
    """summary.json, summary.csv and summary.md."""
    # one record per line: standard JSON (allow_nan=False) through the fast C encoder
    (out / "summary.json").write_text(
        "[\n" + ",\n".join(json.dumps(r, allow_nan=False) for r in records) + "\n]\n")
    rows = [{"fit": r["fit"], "param": k, "value": v,
             "low": r["ci"].get(k, [np.nan, np.nan])[0],
             "high": r["ci"].get(k, [np.nan, np.nan])[1], "n_points": r["n_points"]}
            for r in records for k, v in r["params"].items()]
    pd.DataFrame(rows).to_csv(out / "summary.csv", index=False)
    warn = "".join(f"- {d}\n" for d in diags)
    (out / "summary.md").write_text(_markdown(cfg, table, front, records, extras, usage, brief)
                                    + (f"\n## Warnings\n\n{warn}" if diags else ""))
