"""CARBS's cost-target rules compared over the whole cost-aware problem suite.

    python -m benchmarks.carbs_rules [--quick] [--seeds 10] [--arms ...] [--problems ...]
                                     [--out DIR] [--table PATH]

Each *arm* is CARBS with one ``CARBSConfig.cost_target_rule`` (and, for the informed arms, the
run's total budget and trial count or the problem's cost window); every arm runs every
cost-aware problem of ``benchmarks.tuners`` (the real training tasks left out: their runs take
minutes) on the same seeds, budgets, trial caps and noise streams as the tuner benchmark, with
its first trial at the problem's start. The score is the front gap over the problem's cost window (0 = the
reference front was found; see ``benchmarks/tuners/metrics.py``).

A rule is fit to be the default when, on *every* problem, its median front gap is within
``TOLERANCE`` (1.15x) of the best arm's (a small absolute slack, ``SLACK``, for gaps near 0).
The table says, per problem, each arm's median [q25, q75] and the worst ratio of each arm to
the best. Diagnostics per arm: the share of trials below the window and of the budget spent
above it, trials run and budget used.

Runs are appended to ``DIR/runs.jsonl`` as they finish (one JSON object per run, with its
trials' costs and noise-free outputs) and skipped when found there, so a long comparison can be
stopped and resumed. The last stdout line is one JSON list: per (problem, arm) the median front
gap and its ratio to the best arm's.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from benchmarks.jsonl import append_jsonl, read_jsonl
from benchmarks.tuners.adapters import CarbsTuner
from benchmarks.tuners.base import Budget, Problem
from benchmarks.tuners.metrics import front_gap
from benchmarks.tuners.problems import PROBLEM_NAMES, get_problem
from benchmarks.tuners.runner import pin_threads


def _rule(rule: str, span_decades: float | None = None,
          budget_fraction: float = 0.1, origin: str = "front",
          noise_floor: bool = False) -> dict[str, Any]:
    """CARBSConfig overrides of one cost-target rule (every field named, so that an arm does
    not change when a default does)."""
    return {"cost_target_rule": rule, "cost_target_span_decades": span_decades,
            "cost_extension_max_factor": 10.0, "cost_range_extension": 1.0,
            "max_budget_fraction": budget_fraction, "cost_target_origin": origin,
            "cost_target_noise_floor": noise_floor, "budget_pacing": None}


#: arm -> (CARBSConfig overrides, what the arm is told: "", or "+"-joined "budget", "trials"
#: and "window")
ARMS: dict[str, tuple[dict[str, Any], str]] = {
    # CARBSConfig's defaults, told the budget and the trial count as the sweeper does
    "default": ({}, "budget+trials"),
    "default+window": ({}, "budget+trials+window"),  # and told the problem's cost window
    "clamp": (_rule("clamp"), ""),
    "stratified": (_rule("stratified"), ""),
    "bounded": (_rule("bounded"), ""),
    "expensive": (_rule("expensive"), ""),
    "bounded4": (_rule("bounded", 4.0), ""),
    "clamp+budget": (_rule("clamp"), "budget"),
    "stratified+budget": (_rule("stratified"), "budget"),
    "bounded+budget": (_rule("bounded"), "budget"),
    "expensive+budget": (_rule("expensive"), "budget"),
    "budget": (_rule("budget"), "budget"),
    "bounded3+budget": (_rule("bounded", 3.0), "budget"),
    "bounded4+budget": (_rule("bounded", 4.0), "budget"),
    "expensive4+budget": (_rule("expensive", 4.0), "budget"),
    "budget3+budget": (_rule("budget", 3.0), "budget"),
    "budget4+budget": (_rule("budget", 4.0), "budget"),
    "budget4-floor+budget": (_rule("budget", 4.0, noise_floor=True), "budget"),
    "budget4+budget/0.2": (_rule("budget", 4.0, 0.2), "budget"),
    "budget4-nearby+budget": (_rule("budget", 4.0, origin="nearby"), "budget"),
    "bounded4-nearby+budget": (_rule("bounded", 4.0, origin="nearby"), "budget"),
    "budget-nearby+budget": (_rule("budget", origin="nearby"), "budget"),
    "expensive+window": (_rule("expensive"), "window"),
    "bounded4+budget+window": (_rule("bounded", 4.0), "budget+window"),
    "budget4+budget+window": (_rule("budget", 4.0), "budget+window"),
    "budget4-floor-pace+budget+trials": ({**_rule("budget", 4.0, noise_floor=True),
                                          "budget_pacing": 4.0}, "budget+trials"),
    # the default's rule at other exploration biases
    **{f"budget4-floor+budget/eb{b:g}": ({**_rule("budget", 4.0, noise_floor=True),
                                          "exploration_bias": b}, "budget")
       for b in (0.25, 0.5, 0.75, 1.0)},
}
DESCRIPTIONS = {
    "clamp": "the reference's high-cost clamping (threshold drawn over the front's range)",
    "stratified": "targets over the observed cost range widened by its span on each side",
    "bounded": "as stratified, widened by at most a factor of 10 on each side",
    "expensive": "as bounded, targets weighted towards the top (density rising linearly)",
    "budget": "as bounded below, up to 10% of the remaining budget above",
    "bounded4": "as bounded, never more than 4 decades below the front's top",
    "expensive5": "as expensive, never more than 5 decades below the front's top",
    "+budget": "told the total budget: no suggestion predicted to cost more than 10% of what "
               "is left",
    "+window": "told the problem's cost window: targets kept to it, costs below twice its top",
    "-floor": "no target below the cost where resampled runs are as noisy as half the spread "
              "between configurations (cost_target_noise_floor, the default)",
    "-pace": "budget_pacing=4: while the trials so far cost less on average than an even "
             "share of what is left (left / trials left), a suggestion may cost up to 4 such "
             "shares when that is more than 10% of it",
    "+trials": "told the trial count (total_trials), as the sweeper does",
    "/eb": "exploration_bias: EI measured against the best + this (warped output units; the "
           "reference's 1.0)",
    "-nearby": "half the candidates around the best run near the target cost, on the front or "
               "not (cost_target_origin='nearby'; else the front group nearest the target)",
}
TOLERANCE = 1.15
SLACK = 0.005
#: problems left out: real training tasks (minutes per run)
REAL_TASKS = ("mlp-digits", "cnn-digits")
QUICK_PROBLEMS = ("chinchilla-wide", "branin-cost", "chinchilla-budget10x")
QUICK_ARMS = ("stratified", "expensive")
QUICK_TRIALS = 20


def suite_problems() -> list[str]:
    """Every cost-aware problem of the suite except the real training tasks."""
    return [n for n in PROBLEM_NAMES if n not in REAL_TASKS and get_problem(n).cost_aware]


def arm_config(arm: str, problem: Problem, budget: Budget) -> dict[str, Any]:
    """The CARBSConfig overrides of ``arm`` on ``problem`` (the informed arms get the run's
    total budget or the problem's cost window)."""
    overrides, told = ARMS[arm]
    out = dict(overrides)
    if "budget" in told:
        out["total_budget"] = budget.cost
    if "trials" in told:
        out["total_trials"] = budget.max_trials
    if "window" in told:
        out["cost_window"] = problem.cost_window
    return out


#: The small-budget check (tests/carbs/test_cost_rules.py): trials per problem, seed.
SMALL_TRIALS, SMALL_SEED = 30, 0


def small_budget_gap(name: str, arm: str = "default") -> float:
    """Front gap of one seeded run of ``arm`` on problem ``name`` with the problem's budget
    and ``SMALL_TRIALS`` trials (the regression check of the default)."""
    problem = get_problem(name)
    return run_arm(problem, arm, SMALL_SEED, Budget(problem.budget.cost,
                                                    SMALL_TRIALS))["front_gap"]


def run_arm(problem: Problem, arm: str, seed: int, budget: Budget) -> dict[str, Any]:
    """One CARBS run (the tuner benchmark's loop: the start first, noise of trial i from
    ``default_rng([seed, i])``); its trials and its scores."""
    tuner = CarbsTuner(problem.dims, problem.search_center(), seed,
                       **arm_config(arm, problem, budget))
    t0 = time.perf_counter()
    cumulative, suggest_s = 0.0, 0.0
    cost, nf, status = [], [], []
    for i in range(budget.max_trials):
        if cumulative >= budget.cost:
            break
        t = time.perf_counter()
        config = tuner.ask()
        suggest_s += time.perf_counter() - t
        ev = problem.evaluate(config, np.random.default_rng([seed, i]))
        t = time.perf_counter()
        tuner.tell(config, ev.output, ev.cost, ev.failed)
        suggest_s += time.perf_counter() - t
        cumulative += ev.cost
        cost.append(ev.cost)
        nf.append(ev.noise_free)
        status.append("failed" if ev.failed else "ok")
    trials = _trials(cost, nf, status)
    lo, hi = problem.cost_window
    inside = trials[trials["cumulative_cost"] <= budget.cost * (1 + 1e-12)]
    spent = float(inside["cost"].sum())
    return {
        "problem": problem.name, "arm": arm, "seed": seed,
        "front_gap": front_gap(trials, budget.cost, problem.cost_window,
                               problem.reference_front, problem.center_value()),
        "n_trials": len(inside), "n_failed": int((inside["status"] == "failed").sum()),
        "budget_used": spent / budget.cost,
        "trials_below_window": float((inside["cost"] < lo).mean()),
        "budget_above_window": float(inside.loc[inside["cost"] > hi, "cost"].sum() / spent),
        "seconds": time.perf_counter() - t0, "suggest_seconds": suggest_s,
        "cost": cost, "noise_free": nf, "status": status,
    }


def _trials(cost: list[float], nf: list[float], status: list[str]) -> pd.DataFrame:
    """The columns of the trial table that the front-gap metric reads."""
    return pd.DataFrame({"trial_index": np.arange(len(cost)), "cost": cost,
                         "cumulative_cost": np.cumsum(cost), "status": status,
                         "metric.noise_free_output": nf})


def summarise(runs: pd.DataFrame, default: str | None = None) -> pd.DataFrame:
    """Per (problem, arm): median [q25, q75] front gap over seeds, the ratio of its median to
    the best arm's (with ``SLACK``), diagnostics."""
    rows = []
    for (problem, arm), g in runs.groupby(["problem", "arm"], sort=False):
        gap = g["front_gap"].to_numpy(dtype=float)
        rows.append({"problem": problem, "arm": arm, "seeds": len(g),
                     "gap_median": float(np.median(gap)),
                     "gap_q25": float(np.quantile(gap, 0.25)),
                     "gap_q75": float(np.quantile(gap, 0.75)),
                     "trials_mean": float(g["n_trials"].mean()),
                     "budget_used_mean": float(g["budget_used"].mean()),
                     "trials_below_window": float(g["trials_below_window"].mean()),
                     "budget_above_window": float(g["budget_above_window"].mean()),
                     "suggest_s_per_trial": float(g["suggest_seconds"].sum()
                                                  / max(g["n_trials"].sum(), 1))})
    out = pd.DataFrame(rows)
    best = out.groupby("problem")["gap_median"].transform("min")
    out["ratio_to_best"] = (out["gap_median"] + SLACK) / (best + SLACK)
    return out


def ratio_intervals(runs: pd.DataFrame, arm: str, n_boot: int = 2000,
                    seed: int = 0) -> pd.DataFrame:
    """Per problem, how sure the ratio of ``arm``'s median front gap to the best arm's is: the
    seeds of every arm resampled with replacement (``n_boot`` times), the best arm chosen
    again in each resample; the 5%, 50% and 95% quantiles of the ratio and the share of
    resamples within ``TOLERANCE``. With 10 seeds per arm the best of many arms is partly the
    luckiest, so even an arm as good as the best has a ratio above 1."""
    rng = np.random.default_rng(seed)
    rows = []
    for problem, g in runs.groupby("problem", sort=False):
        gaps = {a: ga["front_gap"].to_numpy(dtype=float) for a, ga in g.groupby("arm")}
        if arm not in gaps:
            continue
        meds = {a: np.median(v[rng.integers(0, len(v), size=(n_boot, len(v)))], axis=1)
                for a, v in gaps.items()}
        best = np.min(np.stack(list(meds.values())), axis=0)
        ratio = (meds[arm] + SLACK) / (best + SLACK)
        q05, q50, q95 = np.quantile(ratio, [0.05, 0.5, 0.95])
        rows.append({"problem": problem, "arm": arm, "ratio_q05": float(q05),
                     "ratio_q50": float(q50), "ratio_q95": float(q95),
                     "p_within_tolerance": float((ratio <= TOLERANCE).mean())})
    return pd.DataFrame(rows)


def verdicts(summary: pd.DataFrame) -> pd.DataFrame:
    """Per arm: its worst ratio to the best arm over the problems, where, and whether it is
    within ``TOLERANCE`` on every problem."""
    rows = []
    for arm, g in summary.groupby("arm", sort=False):
        worst = g.loc[g["ratio_to_best"].idxmax()]
        rows.append({"arm": arm, "worst_ratio": float(worst["ratio_to_best"]),
                     "worst_problem": worst["problem"],
                     "median_ratio": float(g["ratio_to_best"].median()),
                     "within_tolerance_everywhere": bool(g["ratio_to_best"].max() <= TOLERANCE),
                     "problems": len(g)})
    return pd.DataFrame(rows).sort_values("worst_ratio")


def markdown(summary: pd.DataFrame, verdict: pd.DataFrame,
             intervals: pd.DataFrame | None = None) -> str:
    """The comparison table (problems x arms) and the verdicts, in markdown."""
    arms = list(dict.fromkeys(summary["arm"]))
    lines = ["| problem | " + " | ".join(arms) + " |", "|---|" + "---|" * len(arms)]
    for problem, g in summary.groupby("problem", sort=False):
        g = g.set_index("arm")
        best = g["gap_median"].min()
        cells = []
        for arm in arms:
            if arm not in g.index:
                cells.append("")
                continue
            r = g.loc[arm]
            cell = f"{r['gap_median']:.3g} [{r['gap_q25']:.3g}, {r['gap_q75']:.3g}]"
            cells.append(f"**{cell}**" if r["gap_median"] == best else cell)
        lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    lines += ["", (f"| arm | worst ratio to the best arm | on | median ratio | within "
                   f"{TOLERANCE}x everywhere |"), "|---|---|---|---|---|"]
    for _, r in verdict.iterrows():
        lines.append(f"| {r['arm']} | {r['worst_ratio']:.3f} | {r['worst_problem']} | "
                     f"{r['median_ratio']:.3f} | {'yes' if r['within_tolerance_everywhere'] else 'no'} |")
    if intervals is not None and not intervals.empty:
        arm = intervals["arm"].iloc[0]
        lines += ["", (f"How sure the ratio of `{arm}` to the best arm is (seeds resampled, "
                       f"the best arm chosen again each time): 5% / 50% / 95% quantiles and "
                       f"the share of resamples within {TOLERANCE}x"), "",
                  "| problem | q05 | q50 | q95 | within |", "|---|---|---|---|---|"]
        for _, r in intervals.iterrows():
            lines.append(f"| {r['problem']} | {r['ratio_q05']:.2f} | {r['ratio_q50']:.2f} | "
                         f"{r['ratio_q95']:.2f} | {r['p_within_tolerance']:.2f} |")
    lines += ["", ("Diagnostics (means over seeds): trials run / budget used / share of trials "
                   "below the window / share of the budget spent above it"), "",
              "| problem | " + " | ".join(arms) + " |", "|---|" + "---|" * len(arms)]
    for problem, g in summary.groupby("problem", sort=False):
        g = g.set_index("arm")
        cells = [f"{g.loc[a, 'trials_mean']:.0f} / {g.loc[a, 'budget_used_mean']:.2f} / "
                 f"{g.loc[a, 'trials_below_window']:.2f} / {g.loc[a, 'budget_above_window']:.2f}"
                 if a in g.index else "" for a in arms]
        lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _csv(value: str, valid: list[str], flag: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if items == ["all"]:
        return list(valid)
    bad = [v for v in items if v not in valid]
    if bad or not items:
        raise SystemExit(f"{flag}: unknown {bad or value!r}; choose from {','.join(valid)} "
                         "or 'all'")
    return items


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help=f"{len(QUICK_PROBLEMS)} problems x {len(QUICK_ARMS)} arms, 1 seed, "
                         f"{QUICK_TRIALS} trials (< 60 s)")
    ap.add_argument("--problems", default="all", help="comma list or 'all' (the suite's "
                    "cost-aware problems without the real tasks)")
    ap.add_argument("--arms", default="all", help=f"comma list or 'all': {','.join(ARMS)}")
    ap.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 10; quick 1)")
    ap.add_argument("--out", type=Path, default=None,
                    help="folder of runs.jsonl (resumed when present; default "
                         "runs/carbs_rules[-quick])")
    ap.add_argument("--table", type=Path, default=None, help="also write the markdown here")
    ap.add_argument("--report-only", action="store_true", help="summarise DIR/runs.jsonl only")
    ap.add_argument("--focus", default=None, help="an arm whose ratio to the best arm gets "
                    "bootstrap intervals in the table (e.g. the default's arm)")
    ap.add_argument("--small", action="store_true",
                    help=f"print each problem's small-budget gap of the default ({SMALL_TRIALS} "
                         f"trials, seed {SMALL_SEED}): the values tests/carbs/test_cost_rules.py "
                         "holds the default to")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("carbs").setLevel(logging.ERROR)
    pin_threads(1)
    if args.small:
        gaps = {p: round(small_budget_gap(p), 4) for p in suite_problems()}
        print(json.dumps(gaps))
        return [{"benchmark": "carbs_rules_small", "problem": p, "arm": "default",
                 "front_gap": g} for p, g in gaps.items()]
    suite = suite_problems()
    problems = list(QUICK_PROBLEMS) if args.quick and args.problems == "all" else _csv(
        args.problems, suite, "--problems")
    arms = list(QUICK_ARMS) if args.quick and args.arms == "all" else _csv(
        args.arms, list(ARMS), "--arms")
    seeds = range(args.seeds if args.seeds is not None else (1 if args.quick else 10))
    out = args.out or Path("runs") / ("carbs_rules-quick" if args.quick else "carbs_rules")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "runs.jsonl"
    runs = read_jsonl(path)
    done = {(r["problem"], r["arm"], r["seed"]) for r in runs}
    todo = [(p, a, s) for s in seeds for p in problems for a in arms if (p, a, s) not in done]
    t0 = time.perf_counter()
    if not args.report_only:
        for p, a, s in tqdm(todo, desc="carbs runs"):
            prob = get_problem(p)
            budget = prob.budget
            if args.quick:
                budget = Budget(prob.budget.cost, QUICK_TRIALS)
            run = run_arm(prob, a, s, budget)
            append_jsonl(path, [run])
            runs.append(run)
    table = pd.DataFrame([{k: v for k, v in r.items() if k not in ("cost", "noise_free",
                                                                   "status")}
                          for r in runs if r["problem"] in problems and r["arm"] in arms
                          and r["seed"] in seeds])
    if table.empty:
        raise SystemExit(f"no runs in {path}")
    summary = summarise(table)
    verdict = verdicts(summary)
    if args.focus is not None and args.focus not in arms:
        raise SystemExit(f"--focus: {args.focus!r} is not among --arms")
    intervals = ratio_intervals(table, args.focus) if args.focus else None
    md = markdown(summary, verdict, intervals)
    summary.to_csv(out / "summary.csv", index=False)
    (out / "summary.md").write_text(md)
    if args.table is not None:
        args.table.write_text(md)
    print(md)
    print(f"{len(todo)} new runs in {time.perf_counter() - t0:.0f} s; {len(table)} runs in "
          f"{out}")
    figures = [{"benchmark": "carbs_rules", "problem": r["problem"], "arm": r["arm"],
                "seeds": int(r["seeds"]), "front_gap_median": round(r["gap_median"], 5),
                "ratio_to_best": round(r["ratio_to_best"], 4)} for _, r in summary.iterrows()]
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
