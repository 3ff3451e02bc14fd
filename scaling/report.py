"""`python -m scaling report SRC`: every fit the table's columns allow, plots and a summary.

Fits (each becomes one record of ``summary.json``):
* ``frontier``: the Pareto front's law (always): L(C) = E + A C^-alpha when minimising a
  positive output, else a power law of the output (log space when positive, else linear);
* ``param:<name>``: a power law per numeric ``param.*`` column along the front;
* ``approach1`` / ``approach2`` / ``approach3``: Chinchilla's approaches, when the table has
  ``metric.params`` and ``metric.tokens`` or ``metric.flops``.
Fits the data cannot support are skipped with a logged reason (except the frontier law,
whose failure is an error).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from scaling import chinchilla, plots
from scaling.frontier import pareto_front
from scaling.io import load_table, ok_rows, require_columns
from scaling.powerlaw import SPACES, FitError, fit_power_law, fit_saturating

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

    def __post_init__(self) -> None:
        if self.direction not in ("min", "max"):
            raise ValueError(f"direction={self.direction!r}: use 'min' or 'max'.")
        if self.n_bootstrap < 0:
            raise ValueError(f"n_bootstrap={self.n_bootstrap}: use 0 (no intervals) or more.")
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
        if any(b <= 0 for b in self.budgets):
            raise ValueError(f"budgets={self.budgets}: prediction budgets must be > 0.")


def default_out_dir(src: str | Path) -> Path:
    """``<parent>/<stem>_scaling`` for a file, the sweep directory itself for a directory;
    ``./<stem>_scaling`` when that place is not writable (e.g. a read-only data folder)."""
    src = Path(src)
    out = src if src.is_dir() else src.parent / f"{src.stem}_scaling"
    parent = out if out.exists() else out.parent
    if not _writable(parent):
        fallback = Path.cwd() / f"{src.stem if src.is_file() else src.name}_scaling"
        logger.warning("%s is not writable; writing the report to %s", parent, fallback)
        return fallback
    return out


def _writable(path: Path) -> bool:
    """Writable for us, and not marked read-only (no write bit: root ignores the bits)."""
    try:
        return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)
    except OSError:
        return False


def _record(fit: str, params: dict, ci: dict, n_points: int) -> dict:
    clean = {k: float(v) for k, v in params.items()}
    return {"fit": fit, "params": clean,
            "ci": {k: [float(v[0]), float(v[1])] for k, v in ci.items()
                   if np.isfinite(v[0]) and np.isfinite(v[1])},
            "n_points": int(n_points)}


def _frontier_fit(front, cfg):
    cost = front[cfg.cost_column].to_numpy(dtype=float)
    out = front[cfg.output_column].to_numpy(dtype=float)
    if len(front) < 3:
        raise FitError(f"too few Pareto-front points to fit: {len(front)} (cost column "
                       f"{cfg.cost_column!r}, output {cfg.output_column!r}); need 3+, so run "
                       f"more configurations at different costs.")
    if cfg.direction == "min" and np.all(out > 0) and len(front) >= 4:
        return fit_saturating(cost, out, cfg.n_bootstrap, cfg.level, cfg.seed,
                              progress=cfg.progress)
    space = "log" if np.all(out > 0) else "linear"
    return fit_power_law(cost, out, space, cfg.n_bootstrap, cfg.level, cfg.seed)


def _param_fits(front, cfg):
    fits = {}
    for col in [c for c in front.columns if c.startswith("param.")]:
        name = col[len("param."):]
        vals = pd.to_numeric(front[col], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(vals)):
            logger.info("param:%s skipped (non-numeric or missing values along the front)", name)
            continue
        if np.ptp(vals) == 0:
            logger.info("param:%s skipped (constant along the front)", name)
            continue
        space = cfg.spaces.get(name) or cfg.spaces.get(col) or (
            "log" if np.all(vals > 0) else "linear")
        try:
            fits[name] = fit_power_law(front[cfg.cost_column], vals, space, cfg.n_bootstrap,
                                       cfg.level, cfg.seed)
        except FitError as err:
            logger.warning("param:%s skipped: %s", name, err)
    return fits


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


def _markdown(cfg, table, front, records, extras) -> str:
    src = cfg.src if not isinstance(cfg.src, pd.DataFrame) else "<DataFrame>"
    lines = [f"# Scaling report: {src}", "",
             (f"{len(table)} rows, Pareto front of {len(front)} points by `{cfg.cost_column}` "
             f"({'minimising' if cfg.direction == 'min' else 'maximising'} "
             f"`{cfg.output_column}`); intervals: {int(cfg.level * 100)}% bootstrap "
             f"({cfg.n_bootstrap} resamples)."), "",
             ("Prediction tables: `extrapolation_decades` is how far a budget lies outside the "
             "fitted cost range; beyond about one decade, treat the intervals as optimistic."),
             ""]
    for rec in records:
        lines += [f"## {rec['fit']} ({rec['n_points']} points)", "",
                  "| parameter | value | low | high |", "|---|---|---|---|"]
        for k, v in rec["params"].items():
            lo, hi = rec["ci"].get(k, [float("nan")] * 2)
            lines.append(f"| {k} | {v:.6g} | {lo:.6g} | {hi:.6g} |")
        lines.append("")
        if rec["fit"] in extras:
            lines += [extras[rec["fit"]].to_markdown(index=False, floatfmt=".4g")
                      if _has_tabulate() else extras[rec["fit"]].to_string(index=False), ""]
    return "\n".join(lines)


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def run_report(cfg: ReportConfig) -> list[dict]:
    """Run every supported fit, write plots and summaries into the output dir; return records."""
    table = load_table(cfg.src, cfg.format)
    require_columns(table, [cfg.cost_column, cfg.output_column], "the scaling report")
    out = Path(cfg.out) if cfg.out is not None else (
        default_out_dir(cfg.src) if not isinstance(cfg.src, pd.DataFrame) else
        Path.cwd() / "scaling_report")
    out.mkdir(parents=True, exist_ok=True)
    front = pareto_front(table, cfg.cost_column, cfg.output_column, cfg.direction)
    ok = ok_rows(table, [cfg.cost_column, cfg.output_column])
    cmax = float(ok[cfg.cost_column].max()) if len(ok) else 1.0
    budgets = np.asarray(cfg.budgets or [cmax * 10, cmax * 100], dtype=float)
    records, extras, pngs = [], {}, []

    ffit = _frontier_fit(front, cfg)
    records.append(_record("frontier", ffit.params, ffit.ci, ffit.n_points))
    extras["frontier"] = ffit.predict(budgets, warn_decades=np.inf)
    if cfg.plots:
        pngs.append(plots.plot_front(ok, front, ffit, cfg.cost_column, cfg.output_column,
                                     out / "frontier.png"))
    for name, fit in _param_fits(front, cfg).items():
        records.append(_record(f"param:{name}", fit.params, fit.ci, fit.n_points))
        extras[f"param:{name}"] = fit.predict(budgets, warn_decades=np.inf)
        if cfg.plots:
            safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
            pngs.append(plots.plot_param_law(front, f"param.{name}", fit, cfg.cost_column,
                                             out / f"param_{safe}.png"))
    if cfg.drop_highest is None:  # Epoch's replication drops its 5 highest-loss runs
        epoch = table.attrs.get("format") == "epoch"
        cfg = replace(cfg, drop_highest=EPOCH_DROP_HIGHEST if epoch else 0)
        if epoch:
            logger.info("Epoch table: Approach 3 drops the %d highest-loss runs, as in the "
                        "replication (override with --drop-highest)", EPOCH_DROP_HIGHEST)
    cfits, data = _chinchilla_fits(table, cfg)
    chin_budgets = budgets if cfg.budgets or data is None else np.asarray(
        [float(data["C"].max()) * 10, float(data["C"].max()) * 100])
    for name in ("approach3", "approach2", "approach1"):
        if name in cfits:
            fit = cfits[name]
            records.append(_record(name, fit.params, fit.ci, fit.n_points))
            extras[name] = fit.compute_optimal(chin_budgets, warn_decades=np.inf)
    if cfg.plots and cfits:
        pngs.append(plots.plot_chinchilla(data, cfits, out / "chinchilla.png"))

    (out / "summary.json").write_text(json.dumps(records, indent=2))
    rows = [{"fit": r["fit"], "param": k, "value": v,
             "low": r["ci"].get(k, [np.nan, np.nan])[0],
             "high": r["ci"].get(k, [np.nan, np.nan])[1], "n_points": r["n_points"]}
            for r in records for k, v in r["params"].items()]
    pd.DataFrame(rows).to_csv(out / "summary.csv", index=False)
    (out / "summary.md").write_text(_markdown(cfg, table, front, records, extras))
    logger.info("wrote %s (%d fits, %d plots)", out, len(records), len(pngs))
    return records
