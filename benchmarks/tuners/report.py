"""Write the benchmark's outputs: trials CSV, per-run and summary tables, PNG plots, figures.

Files written into the output directory:
- ``trials.csv``: every trial in the trial contract (+ tuner, problem, seed, cumulative_cost);
- ``budgets.json``: the cost budget per problem (to re-render with ``--report-only DIR``);
- ``runs.csv``: one row per (problem, tuner, seed) with its scores at the budget;
- ``summary.csv`` / ``summary.md``: median, IQR and spread over seeds per (problem, tuner);
- ``comparison.csv`` / ``comparison.md``: CARBS against every other arm per problem (win / tie /
  loss on the best output and the front gap, and whether its spread over seeds is lower);
- ``convergence_<problem>.png``: regret of the best-so-far vs cumulative cost, median + IQR;
- ``fronts_<problem>.png`` (cost-aware problems): each seed's found front vs the reference.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from benchmarks.tuners.metrics import (
    best_so_far,
    compare,
    found_front,
    run_metrics,
    summarise,
)
from benchmarks.tuners.problems import get_problem

logger = logging.getLogger(__name__)

REGRET_FLOOR = 1e-6
_COLOURS = {
    "carbs": "tab:red",
    "carbs-wide": "tab:orange",
    "carbs-plain": "tab:purple",
    "carbs-adaptive": "tab:brown",
    "carbs-clamp": "tab:pink",
    "tpe": "tab:blue",
    "gp": "tab:green",
    "random": "tab:gray",
    "asha": "tab:olive",
    "blendsearch": "tab:cyan",
    "hebo": "black",
}


def _band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, 25th and 75th percentiles over seeds (rows), interpolated as in the summary;
    where some seed has nothing yet (inf), no interpolation (so inf stays inf)."""
    any_inf = np.isinf(curves).any(axis=0)
    safe = np.where(np.isinf(curves), 0.0, curves)
    out = []
    for q, method in ((0.5, "higher"), (0.25, "lower"), (0.75, "higher")):
        exact = np.quantile(curves, q, axis=0, method=method)
        out.append(np.where(any_inf, exact, np.quantile(safe, q, axis=0)))
    return out[0], out[1], out[2]


def plot_convergence(
    trials: pd.DataFrame, problem_name: str, budget: float, optimum: float, path: Path
) -> None:
    """Regret of the best-so-far vs cumulative cost, median and IQR band per tuner."""
    problem = get_problem(problem_name)
    sub = trials[trials["problem"] == problem_name]
    lo = max(float(sub["cost"].min()), budget * 1e-4) if problem.cost_aware else 1.0
    grid = np.geomspace(lo, budget, 120) if problem.cost_aware else np.arange(1.0, budget + 1.0)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for tuner, g in sub.groupby("tuner", sort=False):
        curves = np.stack([best_so_far(run, grid) for _, run in g.groupby("seed")]) - optimum
        curves = np.where(np.isfinite(curves), np.maximum(curves, REGRET_FLOOR), np.inf)
        med, q25, q75 = _band(curves)
        colour = _COLOURS.get(str(tuner))
        ax.plot(grid, np.where(np.isfinite(med), med, np.nan), label=str(tuner), color=colour)
        ax.fill_between(
            grid,
            np.where(np.isfinite(q25), q25, np.nan),
            np.where(np.isfinite(q75), q75, np.nan),
            color=colour,
            alpha=0.2,
        )
    if problem.cost_aware:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"cumulative cost ({problem.cost_unit})")
    ref = "optimum" if problem.optimal_value is not None else "best pooled over all runs"
    ax.set_ylabel(f"regret of best so far (vs {ref})")
    ax.set_title(f"{problem_name}: median and IQR over seeds")
    ax.legend()
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.12, top=0.92)  # tight_layout: 2x slower
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_fronts(trials: pd.DataFrame, problem_name: str, budget: float, path: Path) -> None:
    """Each seed's found front (within the budget) against the reference front, per tuner."""
    problem = get_problem(problem_name)
    if problem.cost_window is None:
        return
    sub = trials[trials["problem"] == problem_name]
    tuners = list(dict.fromkeys(sub["tuner"]))
    grid = np.geomspace(problem.cost_window[0], problem.cost_window[1], 200)
    ref = problem.reference_front(grid)
    ref_label = "reference front"
    if ref is None:
        ref, ref_label = found_front(sub, budget, grid), "pooled best front"
    fig, axes = plt.subplots(
        1, len(tuners), figsize=(3.6 * len(tuners), 3.6), sharey=True, squeeze=False
    )
    finite_ref = ref[np.isfinite(ref)]
    found_all: list[np.ndarray] = []
    for ax, tuner in zip(axes[0], tuners):
        for _, run in sub[sub["tuner"] == tuner].groupby("seed"):
            f = found_front(run, budget, grid)
            found_all.append(f[np.isfinite(f)])
            ax.step(
                grid,
                np.where(np.isfinite(f), f, np.nan),
                where="post",
                alpha=0.5,
                color=_COLOURS.get(tuner),
            )
        ax.plot(grid, np.where(np.isfinite(ref), ref, np.nan), "k--", label=ref_label)
        ax.set_xscale("log")
        ax.set_title(tuner)
        ax.set_xlabel(f"trial cost ({problem.cost_unit})")

    found_vals = np.concatenate(found_all) if found_all else np.zeros(0)
    if len(finite_ref):
        span = float(finite_ref.max() - finite_ref.min()) or 1.0
        top = finite_ref.max() + 0.3 * span
        if len(found_vals):  # show most found fronts, even far above the reference
            top = max(top, float(np.quantile(found_vals, 0.9)))
        axes[0][0].set_ylim(finite_ref.min() - 0.05 * span, top)
    axes[0][0].set_ylabel("noise-free output")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{problem_name}: found fronts (one line per seed)")
    width = 3.6 * len(tuners)
    fig.subplots_adjust(left=0.85 / width, right=1 - 0.1 / width, bottom=0.16, top=0.84,
                        wspace=0.08)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# The per-(problem, tuner) figures, in the order the markdown table and the JSON line show them.
_FIGURE_COLUMNS = (
    "seeds",
    "trials_mean",
    "budget_used_mean",
    "best_median",
    "best_q25",
    "best_q75",
    "best_sd",
    "regret_median",
    "regret_q25",
    "regret_q75",
    "regret_vs_random",
    "front_gap_median",
    "front_gap_q25",
    "front_gap_q75",
    "front_gap_sd",
    "front_gap_vs_random",
    "reached_target",
    "cost_to_target_median",
    "suggest_seconds_mean",
)


def _markdown(summary: pd.DataFrame, columns: tuple[str, ...] | None = None) -> str:
    columns = ("problem", "tuner", *_FIGURE_COLUMNS) if columns is None else columns
    cols = [c for c in columns if c in summary.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in summary[cols].iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(
    trials: pd.DataFrame, budgets: dict[str, float], out: Path, plots: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Write all tables and plots into `out`; return (per-run metrics, summary, comparison)."""
    out.mkdir(parents=True, exist_ok=True)
    trials.to_csv(out / "trials.csv", index=False)
    (out / "budgets.json").write_text(json.dumps(budgets, indent=1))
    per_run = []
    for problem_name, sub in trials.groupby("problem", sort=False):
        problem = get_problem(str(problem_name))
        per_run.append(run_metrics(sub, problem, budgets[str(problem_name)]))
    runs = pd.concat(per_run, ignore_index=True)
    runs.to_csv(out / "runs.csv", index=False)
    summary = summarise(runs)
    summary.to_csv(out / "summary.csv", index=False)
    header = (
        "# Tuner benchmark summary\n\nMedian [q25, q75] over seeds at equal cumulative cost "
        "(the budget). regret: best noise-free output found minus the optimum (or the pooled "
        "best when unknown); front_gap: normalised area to the reference front (0 best, 1 "
        "empty); *_vs_random: ratio of medians to random search (< 1 is better).\n\n"
    )
    (out / "summary.md").write_text(header + _markdown(summary))
    comparison = compare(runs)
    comparison.to_csv(out / "comparison.csv", index=False)
    (out / "comparison.md").write_text(comparison_markdown(comparison))
    if plots:
        for problem_name in dict.fromkeys(trials["problem"]):
            problem = get_problem(problem_name)
            optimum = problem.optimal_value
            if optimum is None:
                optimum = float(runs.loc[runs["problem"] == problem_name, "best"].min())
            plot_convergence(
                trials,
                problem_name,
                budgets[problem_name],
                optimum,
                out / f"convergence_{problem_name}.png",
            )
            if problem.cost_aware:
                plot_fronts(
                    trials, problem_name, budgets[problem_name], out / f"fronts_{problem_name}.png"
                )
    logger.info("wrote report to %s", out)
    return runs, summary, comparison


def comparison_markdown(comparison: pd.DataFrame, reference: str = "carbs") -> str:
    """The comparison table, and per arm the count of problems where CARBS wins, ties, loses."""
    head = (
        f"# {reference} against each arm\n\nPer problem and score (best: best noise-free output "
        "found within the budget; front_gap: cost-aware problems), over seeds. result: two-sided "
        "Mann-Whitney U test at 5 % (win = CARBS significantly lower). spread: Brown-Forsythe "
        "test at 5 % on the per-seed scores (lower = CARBS varies significantly less across "
        "seeds).\n\n"
    )
    if comparison.empty:
        return head + f"(no {reference} runs to compare)\n"
    cols = ("problem", "arm", "score", "seeds", f"{reference}_median", "arm_median",
            f"{reference}_iqr", "arm_iqr", "p_value", "result", "spread_p_value", "spread")
    counts = ["", "| arm | score | wins | ties | losses | spread lower | same | higher |",
              "|---|---|---|---|---|---|---|---|"]
    for (arm, score), g in comparison.groupby(["arm", "score"], sort=False):
        res, spr = g["result"].value_counts(), g["spread"].value_counts()
        counts.append(
            f"| {arm} | {score} | {res.get('win', 0)} | {res.get('tie', 0)} | "
            f"{res.get('loss', 0)} | {spr.get('lower', 0)} | {spr.get('same', 0)} | "
            f"{spr.get('higher', 0)} |"
        )
    return head + _markdown(comparison, cols) + "\n".join(counts) + "\n"


def figures(
    summary: pd.DataFrame, comparison: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    """The JSON figures (one object per problem x tuner) printed as the last stdout line.

    With `comparison` (from `metrics.compare`), each non-CARBS object also carries
    ``vs_carbs_best`` / ``vs_carbs_front_gap``: CARBS's result against it ("win", "tie",
    "loss") and ``spread_vs_carbs_best`` / ``spread_vs_carbs_front_gap`` (CARBS's spread:
    "lower", "same", "higher", "n/a").
    """
    verdicts: dict[tuple[str, str], dict[str, str]] = {}
    if comparison is not None and not comparison.empty:
        for _, c in comparison.iterrows():
            v = verdicts.setdefault((str(c["problem"]), str(c["arm"])), {})
            v[f"vs_carbs_{c['score']}"] = str(c["result"])
            v[f"spread_vs_carbs_{c['score']}"] = str(c["spread"])
    out = []
    for _, r in summary.iterrows():
        obj: dict[str, Any] = {"benchmark": "tuners", "problem": r["problem"], "tuner": r["tuner"]}
        for k in _FIGURE_COLUMNS:
            v = r.get(k, math.nan)
            v = float(v)
            if k == "seeds":
                obj[k] = int(v)
                continue
            obj[k] = (
                None if not math.isfinite(v) else round(v, 6) if abs(v) < 1e6 else float(f"{v:.6g}")
            )
        obj.update(verdicts.get((str(r["problem"]), str(r["tuner"])), {}))
        out.append(obj)
    return out
