"""Benchmark: ``scaling.recommend`` on fresh CARBS sweeps of the LM-like suite problems, against
the truth and two naive baselines.

    python -m benchmarks.recommend [--quick] [--seeds 10] [--problems ...] [--csv PATH]

Problems: the Chinchilla simulator and its variants (``benchmarks/tuners/chinchilla_sim.py``,
``variants.py``): loss = Epoch AI's Chinchilla law L(N, D) + penalties for a learning rate and
warm-up away from their size-dependent optima and a weight decay away from 0.1 (+ seed noise);
cost = 6 N D; the optimum is known at every budget.

Per problem and seed:

1. a CARBS sweep from scratch, as the sweeper runs one: the default ``CARBSConfig`` told the
   problem's total budget (``total_budget``), its trial cap, the search space of
   :func:`search_space` (the problem's box, its start as the centre); C = the largest cost run;
2. three configurations for each budget 10 C and 100 C, all spending the budget (6 N D = budget):
   * **ours**: ``scaling.recommend(table, [10C, 100C], space)`` (its defaults);
   * **tok20**: the sweep's best configuration (lowest observed loss), width and depth
     scaled by one factor to N = sqrt(budget / 120) (Chinchilla's 20 tokens per parameter),
     its learning rate, warm-up and weight decay kept;
   * **a3_best_lr**: the Approach 3 allocation fitted on the sweep (the same fit ours uses)
     with the best configuration's learning rate, warm-up and weight decay;
3. each configuration's noise-free loss minus the true optimum at that budget (the *gap*),
   split into its parts (:func:`gap_parts`): allocation (the law at N, D against the
   compute-optimal loss), learning rate, warm-up, weight decay. A configuration whose learning
   rate diverges counts as falling back to the sweep's best run (its gap: that run's loss minus
   the optimum) and is counted in ``diverged``.

Figures per problem, budget factor and method: mean and median gap over seeds, and whether ours
beats each baseline on both. Where ours loses, the ``diagnostics`` of the last line name the
part of the gap that loses (the mean of each part, ours against the baseline).

Full: 10 seeds on every problem of ``PROBLEMS``, 1000 bootstrap resamples, plus an ablation
(``follow="chinchilla"``: the size follows Approach 3 fitted on the raw losses instead of the
loss surface's L(N, D)). ``--quick``: 2 seeds of ``chinchilla`` at 40 trials, 100 resamples, no
ablation. Last stdout line: one JSON object.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import itertools
import json
import logging
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from benchmarks.jsonl import append_jsonl, read_jsonl
from benchmarks.tuners.base import Problem
from benchmarks.tuners.chinchilla_sim import (
    ChinchillaProblem,
    chinchilla_loss,
    warmup_opt,
)
from benchmarks.tuners.problems import get_problem
from benchmarks.tuners.space import check_config
from scaling.recommend import recommend

#: The LM-like problems swept (their parameters are exactly the simulator's six).
PROBLEMS = ("chinchilla", "chinchilla-wide", "chinchilla-noisy", "chinchilla-lr-cliff",
            "chinchilla-budget1000x")
FACTORS = (10, 100)
QUICK_TRIALS = 40
METHODS = ("ours", "tok20", "a3_best_lr")
BASELINES = ("tok20", "a3_best_lr")
ABLATION = "ours_follow_chinchilla"
LABELS = {"ours": "ours (scaling.recommend)", "tok20": "best config, 20 tokens/param",
          "a3_best_lr": "Approach 3 allocation + best lr",
          ABLATION: "ours with --follow chinchilla (ablation)"}
PARTS = ("gap_alloc", "gap_lr", "gap_warmup", "gap_weight_decay")


def search_space(problem: Problem) -> dict[str, dict[str, Any]]:
    """The sweep's search space (sweep-YAML spelling) for a Chinchilla-like problem: its box
    (warm-up and weight decay on logit / log scales, so within (0.001, 0.5) and (0.003, 0.3)),
    its start as the centre, widths in multiples of 8."""
    box = {d.name: d for d in problem.dims}
    c = problem.search_center()
    return {
        "width": {"space": "log", "center": int(8 * round(c["width"] / 8)),
                  "min": int(box["width"].low), "max": int(box["width"].high), "integer": True,
                  "rounding_factor": 8},
        "depth": {"space": "log", "center": int(c["depth"]), "min": int(box["depth"].low),
                  "max": int(box["depth"].high), "integer": True},
        "tokens": {"space": "log", "center": float(c["tokens"]), "min": box["tokens"].low,
                   "max": box["tokens"].high, "integer": True},
        "lr": {"space": "log", "center": float(c["lr"]), "min": box["lr"].low,
               "max": box["lr"].high},
        "warmup": {"space": "logit", "center": min(max(float(c["warmup"]), 0.002), 0.45),
                   "min": 0.001, "max": 0.5},
        "weight_decay": {"space": "log", "center": min(max(float(c["weight_decay"]), 0.005),
                                                       0.25), "min": 0.003, "max": 0.3},
    }


#: A space of the base simulator with a small model at its centre (~5e14 FLOPs); the scaling
#: tests read it.
SPACE = {
    "width": {"space": "log", "center": 128, "min": 64, "max": 4096, "integer": True,
              "rounding_factor": 8},
    "depth": {"space": "log", "center": 4, "min": 2, "max": 48, "integer": True},
    "tokens": {"space": "log", "center": 1e8, "min": 1e7, "max": 1e11, "integer": True,
               "rounding_factor": 1024},
    "lr": {"space": "log", "center": 3e-3, "min": 1e-5, "max": 1.0},
    "warmup": {"space": "logit", "center": 0.05, "min": 0.001, "max": 0.5},
    "weight_decay": {"space": "log", "center": 0.05, "min": 0.003, "max": 0.3},
}


def run_sweep(problem: Problem, seed: int, max_trials: int | None = None) -> pd.DataFrame:
    """A CARBS sweep of ``problem`` (default settings, told the problem's total budget and its
    trial cap or ``max_trials``, as the Hydra sweeper tells them); the trial table in the
    project's contract."""
    from carbs import CARBS, CARBSConfig
    from carbs.sweep.settings import params_from_search_space

    budget = problem.budget
    n_trials = max_trials or budget.max_trials
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=seed, total_budget=budget.cost,
                            total_trials=n_trials),
                params_from_search_space(search_space(problem)))
    rows, spent = [], 0.0
    for i in range(n_trials):
        if spent >= budget.cost:
            break
        s = opt.suggest()
        ev = problem.evaluate(dict(s.config), np.random.default_rng([seed, i]))
        opt.observe(s, output=math.nan if ev.failed else ev.output, cost=ev.cost,
                    is_failure=ev.failed)
        spent += ev.cost
        rows.append({"trial_id": f"{seed}-{i}", "status": "failed" if ev.failed else "ok",
                     "output": ev.output, "cost": ev.cost,
                     **{f"param.{k}": v for k, v in s.config.items()},
                     **{f"metric.{k}": v for k, v in ev.metrics.items()}})
    return pd.DataFrame(rows)


def _round_size(width: float, depth: float, n_target: float,
                box: tuple[int, int, int, int]) -> tuple[int, int]:
    """The (width multiple of 8, integer depth) neighbours of a continuous size closest to
    N = 12 depth width^2 = n_target, within the box (w_min, w_max, d_min, d_max)."""
    best, err = None, math.inf
    for w, d in itertools.product((math.floor(width / 8) * 8, math.ceil(width / 8) * 8),
                                  (math.floor(depth), math.ceil(depth))):
        w, d = min(max(w, box[0]), box[1]), min(max(d, box[2]), box[3])
        e = abs(math.log(12 * d * w * w / n_target))
        if e < err:
            best, err = (int(w), int(d)), e
    return best


def scale_size(problem: Problem, best: dict, n_target: float, budget: float) -> dict:
    """``best`` with width and depth scaled by one factor to N = n_target and tokens spending
    the budget; learning rate, warm-up and weight decay kept."""
    box = {d.name: d for d in problem.dims}
    limits = (int(box["width"].low), int(box["width"].high), int(box["depth"].low),
              int(box["depth"].high))
    n_best = 12.0 * best["depth"] * best["width"] ** 2
    s = (n_target / n_best) ** (1.0 / 3.0)
    w, d = _round_size(best["width"] * s, best["depth"] * s, n_target, limits)
    return {**best, "width": w, "depth": d, "tokens": budget / (6.0 * 12.0 * d * w * w)}


def gap_parts(problem: ChinchillaProblem, config: dict, budget: float) -> dict[str, float]:
    """The gap of ``config`` (clipped to the box, as a run sees it) to the optimum at
    ``budget``, by part: ``gap_alloc`` = L(N, D) minus the optimum, ``gap_lr`` /
    ``gap_warmup`` / ``gap_weight_decay`` = each penalty (the parts sum to ``gap`` on the six
    parameters of the base simulator); ``diverged``, ``N``, ``D``,
    ``spend`` (cost / budget) and ``lr_ratio`` (lr over its optimum) with them."""
    cfg = check_config(problem.dims, dict(config))
    loss, n, d = problem.expected(cfg)
    opt = float(problem.reference_front(np.array([budget]))[0])
    lr_ratio = float(cfg["lr"]) / problem.lr_optimum(cfg, n)
    parts = {"gap_alloc": float(chinchilla_loss(n, d)) - opt,
             "gap_lr": 0.05 * math.log(lr_ratio) ** 2,
             "gap_warmup": (float(cfg["warmup"]) - float(warmup_opt(n))) ** 2,
             "gap_weight_decay": 0.5 * (float(cfg["weight_decay"]) - 0.1) ** 2}
    return {"gap": loss - opt, **parts, "diverged": problem.diverges(cfg, n), "N": n, "D": d,
            "spend": 6.0 * n * d / budget, "lr_ratio": lr_ratio, "loss": loss, "optimum": opt}


def one_seed(name: str, seed: int, n_bootstrap: int, max_trials: int | None = None,
             ablation: bool = False) -> list[dict]:
    """Sweep, recommend, evaluate every method at 10C and 100C for one seed of one problem."""
    problem = get_problem(name)
    space = search_space(problem)
    t0 = time.perf_counter()
    table = run_sweep(problem, seed, max_trials)
    t_sweep = time.perf_counter() - t0
    ok = table[table["status"] == "ok"]
    c = float(ok["cost"].max())
    budgets = [f * c for f in FACTORS]
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = recommend(table, budgets, space, n_bootstrap=n_bootstrap, seed=seed)
        t_rec = time.perf_counter() - t1
        front = recommend(table, budgets, space, n_bootstrap=n_bootstrap, seed=seed,
                          follow="chinchilla") if ablation else None
    best_row = ok.loc[ok["output"].idxmin()]
    best = {k: float(best_row[f"param.{k}"]) for k in space}
    n_true_of = {b: _n_opt(problem, b) for b in budgets}
    out = []
    for i, (factor, budget, item) in enumerate(zip(FACTORS, budgets, rec.recommendations)):
        approaches = item.allocation["approaches"]
        configs = {
            "ours": {k: float(v) for k, v in item.params.items()},
            "tok20": scale_size(problem, best, math.sqrt(budget / 120.0), budget),
            "a3_best_lr": scale_size(problem, best, approaches["approach3"]["N"], budget),
        }
        if front is not None:
            configs[ABLATION] = {k: float(v) for k, v in front.recommendations[i].params.items()}
        fallback = float(problem.expected(check_config(problem.dims, best))[0]) - float(
            problem.reference_front(np.array([budget]))[0])
        for method, cfg in configs.items():
            res = gap_parts(problem, cfg, budget)
            if res["diverged"]:
                res["gap"] = fallback
            out.append({"problem": name, "seed": seed, "factor": factor, "budget": budget,
                        "sweep_max_cost": c, "sweep_trials": len(table), "method": method,
                        **res, "lr": cfg["lr"], "warmup": cfg["warmup"],
                        "weight_decay": cfg["weight_decay"], "width": cfg["width"],
                        "depth": cfg["depth"], "n_front": rec.n_front, "sweep_s": t_sweep,
                        "recommend_s": t_rec, "N_true": n_true_of[budget],
                        "N_front_law": approaches["front"]["N"],
                        "N_approach3": approaches["approach3"]["N"],
                        "N_surface": approaches.get("surface", {}).get("N", math.nan),
                        "follows": item.allocation.get("follows", "")})
    return out


def _n_opt(problem: ChinchillaProblem, budget: float) -> float:
    """The compute-optimal N at ``budget`` inside the problem's box (what the front attains)."""
    from scipy.optimize import minimize_scalar

    lo = max(problem.n_min, budget / (6.0 * problem.d_max))
    hi = min(problem.n_max, budget / (6.0 * problem.d_min))
    if hi <= lo:
        return lo
    res = minimize_scalar(lambda ln: float(chinchilla_loss(math.exp(ln), budget
                                                           / (6.0 * math.exp(ln)))),
                          bounds=(math.log(lo), math.log(hi)), method="bounded")
    return float(math.exp(res.x))


def summarise(rows: pd.DataFrame) -> tuple[dict, list[str]]:
    """Per problem, factor and method: mean and median gap (and of each part); whether ours
    beats each baseline on both; and the diagnostics of every loss."""
    fig: dict[str, Any] = {}
    diagnostics: list[str] = []
    methods = [m for m in (*METHODS, ABLATION) if m in set(rows["method"])]
    for (problem, factor), g in rows.groupby(["problem", "factor"], sort=False):
        key = f"{problem}/{factor}x"
        stats = {}
        for m in methods:
            gm = g[g["method"] == m]
            stats[m] = {"mean": float(gm["gap"].mean()), "median": float(gm["gap"].median()),
                        "diverged": int(gm["diverged"].sum()),
                        **{f"{p}_mean": float(gm[p].mean()) for p in PARTS}}
        fig[key] = stats
        for base in BASELINES:
            wins = {s: stats["ours"][s] < stats[base][s] for s in ("mean", "median")}
            fig[key][f"ours_beats_{base}"] = all(wins.values())
            if all(wins.values()):
                continue
            worse = max(PARTS, key=lambda p: stats["ours"][f"{p}_mean"]
                        - stats[base][f"{p}_mean"])
            lost = " and ".join(s for s, w in wins.items() if not w)
            diagnostics.append(
                f"{key}: ours loses to {base} on the {lost} gap (mean {stats['ours']['mean']:.4f}"
                f" vs {stats[base]['mean']:.4f}, median {stats['ours']['median']:.4f} vs "
                f"{stats[base]['median']:.4f}); the part that loses most: {worse} (mean "
                f"{stats['ours'][worse + '_mean']:.4f} vs {stats[base][worse + '_mean']:.4f}; "
                f"diverged {stats['ours']['diverged']} vs {stats[base]['diverged']})")
    return fig, diagnostics


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"2 seeds of chinchilla, {QUICK_TRIALS} trials, no ablation (< 60 s)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds (default 10; quick 2)")
    parser.add_argument("--problems", default=None,
                        help=f"comma list (default {','.join(PROBLEMS)}; quick chinchilla)")
    parser.add_argument("--trials", type=int, default=None,
                        help="trial cap per sweep (default: each problem's)")
    parser.add_argument("--csv", default=None, help="also write every row to this CSV")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder of rows.jsonl: each (problem, seed) is appended when done "
                             "and skipped when found there, so a long run can be resumed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    problems = (args.problems.split(",") if args.problems else
                ["chinchilla"] if args.quick else list(PROBLEMS))
    bad = [p for p in problems if p not in PROBLEMS]
    if bad:
        parser.error(f"--problems: {bad} are not LM-like suite problems; choose from {PROBLEMS}")
    n_seeds = args.seeds or (2 if args.quick else 10)
    max_trials = args.trials or (QUICK_TRIALS if args.quick else None)
    n_boot = 100 if args.quick else 1000
    t0 = time.perf_counter()
    rows: list[dict] = []
    store = None
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        store = args.out / "rows.jsonl"
        rows = [r for r in read_jsonl(store) if r["problem"] in problems
                and r["seed"] < n_seeds]
    # a (problem, seed) counts as done with all its rows (a torn write leaves fewer)
    counts = pd.Series([(r["problem"], r["seed"]) for r in rows], dtype=object).value_counts()
    done = {k for k, n in counts.items() if n >= len(FACTORS) * len(METHODS)}
    rows = [r for r in rows if (r["problem"], r["seed"]) in done]
    todo = [(p, s) for p in problems for s in range(n_seeds) if (p, s) not in done]
    for p, seed in tqdm(todo, desc="sweeps", disable=len(todo) < 2):
        new = one_seed(p, seed, n_boot, max_trials, ablation=not args.quick)
        rows += new
        if store is not None:
            append_jsonl(store, new)
    df = pd.DataFrame(rows)
    if args.csv:
        df.to_csv(args.csv, index=False)
    pd.set_option("display.width", 200)
    print(f"CARBS sweeps from scratch (default settings, told the total budget and the trial "
          f"count), recommend for "
          f"10C and 100C (C: the sweep's largest run); loss gap to the true optimum "
          f"(noise-free), {n_seeds} seeds per problem")
    fig, diagnostics = summarise(df)
    methods = [m for m in (*METHODS, ABLATION) if m in set(df["method"])]
    for key, stats in fig.items():
        print(f"{key}: mean / median gap [diverged]")
        for m in methods:
            if m in stats:
                print(f"  {LABELS[m]:<36} {stats[m]['mean']:.4f} / {stats[m]['median']:.4f} "
                      f"[{stats[m]['diverged']}]")
    for line in diagnostics:
        print("diagnostic:", line)
    ours = df[df["method"] == "ours"]
    alloc = {k: float(np.nanmedian(np.abs(np.log10(ours[k] / ours["N_true"]))))
             for k in ("N_approach3", "N_front_law", "N_surface")}
    wins = sum(v.get(f"ours_beats_{b}", False) for v in fig.values() for b in BASELINES)
    result = {"benchmark": "recommend", "quick": bool(args.quick), "seeds": n_seeds,
              "problems": problems, "alloc_log10_err_approach3": alloc["N_approach3"],
              "alloc_log10_err_front": alloc["N_front_law"],
              "alloc_log10_err_surface": alloc["N_surface"],
              "spend_max_abs_error": float((df["spend"] - 1).abs().max()),
              "diverged": {m: int(df.loc[df["method"] == m, "diverged"].sum())
                           for m in methods},
              "ours_beats_baseline_on_mean_and_median": f"{wins}/{len(fig) * len(BASELINES)}",
              "figures": fig, "diagnostics": diagnostics,
              "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(result, allow_nan=False))
    return result


if __name__ == "__main__":
    main()
