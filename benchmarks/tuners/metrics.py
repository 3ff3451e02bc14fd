"""Metrics at equal cumulative cost, per run and aggregated (median and IQR over seeds).

All scores use the noise-free output (``metric.noise_free_output``) of evaluated trials, so a
tuner is credited for what it actually found, not for lucky noise.

- best-so-far / regret: lowest noise-free output among trials finished within cumulative cost c,
  minus the problem's optimal value (or, when unknown, the best pooled over all runs).
- front gap: normalised area between the found front and the reference front in log-cost,
      gap = mean_{log c in window} [min(F(c), y_ref) - R(c)] / mean [y_ref - R(c)],
  where F(c) is the best output of a single found trial with cost <= c (trials within the
  budget), R the reference front and y_ref = max(R(c_lo), output of the search center) the
  reference value (as a hypervolume's reference point). 0 = the reference front was found;
  1 = nothing better than y_ref (e.g. no better than the common starting point).
- cost to target: cumulative cost at which the noise-free output first reached the target.

Across seeds (`summarise`): median and IQR of each score, and its spread: IQR (q75 - q25) and
standard deviation over seeds. `compare` tests each arm against CARBS per problem: a two-sided
Mann-Whitney U test on the per-seed scores (CARBS wins / ties / loses at level `alpha`) and a
Brown-Forsythe test (Levene's test around the median) on their spread (CARBS's spread is lower /
the same / higher). Each test is at level `alpha` on its own, not corrected for the many
comparisons of a table.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from benchmarks.tuners.base import Problem
from scaling.frontier import pareto_indices

NF = "metric.noise_free_output"


def _values(run: pd.DataFrame) -> np.ndarray:
    ok = (run["status"] == "ok").to_numpy() & np.isfinite(run[NF].to_numpy(dtype=float))
    return np.where(ok, run[NF].to_numpy(dtype=float), np.inf)


def best_so_far(run: pd.DataFrame, costs: np.ndarray) -> np.ndarray:
    """Best noise-free output among trials with cumulative cost <= each c (inf if none)."""
    run = run.sort_values("trial_index")
    best = np.minimum.accumulate(_values(run)) if len(run) else np.array([])
    cum = run["cumulative_cost"].to_numpy(dtype=float)
    idx = np.searchsorted(cum, np.asarray(costs, dtype=float) * (1 + 1e-12), side="right") - 1
    return np.where(idx >= 0, best[np.clip(idx, 0, None)] if len(best) else np.inf, np.inf)


def cost_to_target(run: pd.DataFrame, target: float) -> float:
    """Cumulative cost when the noise-free output first reached `target` (inf if never)."""
    run = run.sort_values("trial_index")
    hit = np.nonzero(_values(run) <= target)[0]
    return float(run["cumulative_cost"].to_numpy(dtype=float)[hit[0]]) if len(hit) else math.inf


def found_front(run: pd.DataFrame, budget: float, costs: np.ndarray) -> np.ndarray:
    """F(c): best single-trial noise-free output with trial cost <= c, within the budget."""
    inside = run[run["cumulative_cost"] <= budget * (1 + 1e-12)]
    tc, vals = inside["cost"].to_numpy(dtype=float), _values(inside)
    front = pareto_indices(tc, vals)  # F(c) is the last front point's value with cost <= c
    tc, best = tc[front], vals[front]
    idx = np.searchsorted(tc, np.asarray(costs, dtype=float), side="right") - 1
    return np.where(idx >= 0, best[np.clip(idx, 0, None)] if len(best) else np.inf, np.inf)


def front_gap(
    run: pd.DataFrame,
    budget: float,
    window: tuple[float, float],
    reference: Callable[[np.ndarray], np.ndarray],
    ref_value: float = -math.inf,
    n_grid: int = 200,
) -> float:
    """Normalised area between found and reference fronts over `window` (see module doc).

    `ref_value` is the reference output; it is raised to the reference front's value at the
    cheapest finite cost of the window when lower.
    """
    grid = np.geomspace(window[0], window[1], n_grid)
    ref = np.asarray(reference(grid), dtype=float)
    finite = np.isfinite(ref)
    grid, ref = grid[finite], ref[finite]
    if len(grid) == 0:
        return math.nan
    cap = max(float(ref[0]), ref_value)
    empty = np.mean(cap - ref)
    if empty <= 0:
        return math.nan
    found = np.minimum(found_front(run, budget, grid), cap)
    return float(np.mean(np.clip(found - ref, 0.0, None)) / empty)


def pooled_reference(trials: pd.DataFrame, budget: float) -> Callable[[np.ndarray], np.ndarray]:
    """Empirical reference front: the best front over all runs of a problem (unknown optimum)."""
    return lambda costs: found_front(trials, budget, costs)


def run_metrics(trials: pd.DataFrame, problem: Problem, budget: float) -> pd.DataFrame:
    """One row per run (tuner, seed) of one problem with its scores at the budget."""
    if problem.optimal_value is not None:
        optimum = problem.optimal_value
        reference = problem.reference_front
    else:
        inside = trials[trials["cumulative_cost"] <= budget * (1 + 1e-12)]
        optimum = float(np.min(_values(inside))) if len(inside) else math.nan
        reference = pooled_reference(trials, budget)
    ref_value = problem.center_value() if problem.cost_aware else math.nan
    rows = []
    for (tuner, seed), run in trials.groupby(["tuner", "seed"], sort=False):
        best_full, best_quarter = best_so_far(run, np.array([budget, 0.25 * budget]))
        row = {
            "problem": problem.name,
            "tuner": tuner,
            "seed": seed,
            "n_trials": int((run["cumulative_cost"] <= budget * (1 + 1e-12)).sum()),
            "n_failed": int((run["status"] == "failed").sum()),
            "budget_used": float(min(run["cumulative_cost"].max(), budget) / budget),
            "best": best_full,
            "regret": best_full - optimum,
            "regret_at_25pct": best_quarter - optimum,
            "cost_to_target": (
                cost_to_target(run, problem.target) if problem.target is not None else math.nan
            ),
            "suggest_seconds": float(run["metric.suggest_seconds"].mean()),
        }
        if problem.cost_aware and problem.cost_window is not None:
            row["front_gap"] = front_gap(run, budget, problem.cost_window, reference, ref_value)
        else:
            row["front_gap"] = math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _quantile(vals: np.ndarray, q: float) -> float:
    """Quantile that stays meaningful with inf entries (never reached): no interpolation then."""
    if np.isinf(vals).any():
        return float(np.quantile(vals, q, method="lower" if q < 0.5 else "higher"))
    return float(np.quantile(vals, q))


def _spread(vals: np.ndarray) -> tuple[float, float]:
    """(IQR, standard deviation) over seeds; NaN when a seed has no finite score."""
    vals = vals[~np.isnan(vals)]
    if len(vals) == 0 or not np.isfinite(vals).all():
        return math.nan, math.nan
    q25, q75 = np.quantile(vals, [0.25, 0.75])
    return float(q75 - q25), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0


def compare(
    per_run: pd.DataFrame, reference: str = "carbs", alpha: float = 0.05
) -> pd.DataFrame:
    """`reference` against every other arm, per problem and score (best output; front gap).

    One row per (problem, arm, score) with both medians and IQRs, the Mann-Whitney p-value and
    ``result`` (from the reference's side: "win" = significantly lower score, "loss" =
    significantly higher, "tie" otherwise), and the Brown-Forsythe p-value of the spread with
    ``spread`` ("lower" / "same" / "higher": the reference's spread against the arm's). Scores
    that are inf on some seed (nothing found) count as the worst values for the U test; the
    spread test then needs finite values and says "n/a".
    """
    from scipy import stats

    rows = []
    for problem, sub in per_run.groupby("problem", sort=False):
        ref = sub[sub["tuner"] == reference]
        if ref.empty:
            continue
        for tuner in dict.fromkeys(sub["tuner"]):
            if tuner == reference:
                continue
            other = sub[sub["tuner"] == tuner]
            for score in ("best", "front_gap"):
                a = ref[score].to_numpy(dtype=float)
                b = other[score].to_numpy(dtype=float)
                a, b = a[~np.isnan(a)], b[~np.isnan(b)]
                if len(a) == 0 or len(b) == 0:
                    continue
                row = {
                    "problem": problem,
                    "arm": tuner,
                    "score": score,
                    "seeds": min(len(a), len(b)),
                    f"{reference}_median": _quantile(a, 0.5),
                    "arm_median": _quantile(b, 0.5),
                }
                row[f"{reference}_iqr"], _ = _spread(a)
                row["arm_iqr"], _ = _spread(b)
                big = np.nanmax(np.where(np.isfinite(np.r_[a, b]), np.abs(np.r_[a, b]), 0)) + 1
                fa = np.where(np.isfinite(a), a, 10 * big)
                fb = np.where(np.isfinite(b), b, 10 * big)
                if np.all(np.r_[fa, fb] == fa[0]):
                    p_u = 1.0
                else:
                    p_u = float(stats.mannwhitneyu(fa, fb, alternative="two-sided").pvalue)
                med_a, med_b = np.median(fa), np.median(fb)
                row["p_value"] = p_u
                row["result"] = (
                    "tie" if p_u >= alpha or med_a == med_b else "win" if med_a < med_b else "loss"
                )
                if np.isfinite(a).all() and np.isfinite(b).all() and len(a) > 1 and len(b) > 1:
                    if np.ptp(a) == 0 and np.ptp(b) == 0:
                        p_s = 1.0
                    else:
                        p_s = float(stats.levene(a, b, center="median").pvalue)
                    # direction: the mean absolute deviation from the median (what the test
                    # compares)
                    da = float(np.mean(np.abs(a - np.median(a))))
                    db = float(np.mean(np.abs(b - np.median(b))))
                    row["spread_p_value"] = p_s
                    row["spread"] = (
                        "same" if not p_s < alpha or da == db else "lower" if da < db else "higher"
                    )
                else:
                    row["spread_p_value"], row["spread"] = math.nan, "n/a"
                rows.append(row)
    return pd.DataFrame(rows)


def summarise(per_run: pd.DataFrame, baseline: str = "random") -> pd.DataFrame:
    """Median and IQR over seeds per (problem, tuner), plus ratios against `baseline`."""
    rows = []
    for (problem, tuner), g in per_run.groupby(["problem", "tuner"], sort=False):
        row = {"problem": problem, "tuner": tuner, "seeds": len(g)}
        for col in ("best", "regret", "regret_at_25pct", "front_gap", "cost_to_target"):
            if col not in g:
                continue
            vals = g[col].to_numpy(dtype=float)
            if np.all(np.isnan(vals)):
                row[f"{col}_median"] = row[f"{col}_q25"] = row[f"{col}_q75"] = math.nan
                continue
            vals = vals[~np.isnan(vals)]
            for name, q in (("median", 0.5), ("q25", 0.25), ("q75", 0.75)):
                row[f"{col}_{name}"] = _quantile(vals, q)
        for col in ("best", "front_gap"):
            if col in g:
                row[f"{col}_iqr"], row[f"{col}_sd"] = _spread(g[col].to_numpy(dtype=float))
        row["reached_target"] = float(np.isfinite(g["cost_to_target"].to_numpy(dtype=float)).mean())
        row["trials_mean"] = float(g["n_trials"].mean())
        row["failed_mean"] = float(g["n_failed"].mean())
        row["budget_used_mean"] = float(g["budget_used"].mean()) if "budget_used" in g else math.nan
        row["suggest_seconds_mean"] = float(g["suggest_seconds"].mean())
        rows.append(row)
    out = pd.DataFrame(rows)
    for col in ("regret_median", "front_gap_median"):
        ratio = []
        for _, r in out.iterrows():
            base = out[(out["problem"] == r["problem"]) & (out["tuner"] == baseline)]
            b = float(base[col].iloc[0]) if len(base) else math.nan
            ratio.append(r[col] / b if b and np.isfinite(b) and b > 0 else math.nan)
        out[col.replace("_median", "") + f"_vs_{baseline}"] = ratio
    return out
