"""Benchmark: ``scaling.recommend`` against the truth, on the Chinchilla simulator.

Problem (its optimum is known at every budget, see ``benchmarks/tuners/chinchilla_sim.py``):
loss = Epoch AI's Chinchilla law L(N, D) + penalties for a learning rate and warm-up away from
their size-dependent optima and a weight decay away from 0.1, + noise; cost = 6 N D.

Per seed:

1. a CARBS sweep (width, depth, tokens, learning rate, warm-up, weight decay; a small model at
   the search centre, so the front spans several decades of cost) of ``--trials`` trials;
   C = the largest cost it ran;
2. three configurations for each budget 10 C and 100 C, all spending the budget (6 N D = budget):
   * **ours**: ``scaling.recommend(table, [10C, 100C], space)``;
   * **20 tok/param**: the sweep's best configuration (lowest observed loss), width and depth
     scaled by one factor to N = sqrt(budget / 120) (Chinchilla's 20 tokens per parameter),
     its learning rate, warm-up and weight decay kept;
   * **A3 + best lr**: the Approach 3 allocation fitted on the sweep (the same fit ours uses)
     with the best configuration's learning rate, warm-up and weight decay;
3. each configuration's noise-free loss in the simulator, minus the true optimum at that budget
   (``reference_front``): the gap. A diverged learning rate counts as a failure (gap = inf).

Full: 5 seeds x 150 trials, plus an ablation (``laws="front"``). ``--quick``: 3 seeds x 50
trials, fewer bootstrap resamples, no ablation.
Last stdout line: one JSON object with the medians and spreads (min, max) of the gaps.
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

import numpy as np
import pandas as pd

from benchmarks.tuners.chinchilla_sim import DIVERGENCE_FACTOR, LAW, ChinchillaProblem, lr_opt
from benchmarks.tuners.space import check_config
from scaling.recommend import recommend

#: The sweep's search space (sweep-YAML spelling); the centre is a small model (~5e14 FLOPs).
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
FACTORS = (10, 100)
#: CARBS's soft cap on a suggestion's cost: keeps 100 C inside the simulator's box.
SWEEP_MAX_SUGGESTION_COST = 1e18
FULL_TRIALS, QUICK_TRIALS = 150, 50
METHODS = ("ours", "tok20", "a3_best_lr")
ABLATION = "ours_front_laws"
LABELS = {"ours": "ours (scaling.recommend)", "tok20": "best config, 20 tokens/param",
          "a3_best_lr": "Approach 3 allocation + best lr",
          ABLATION: "ours with --laws front (ablation)"}


def run_sweep(seed: int, n_trials: int) -> pd.DataFrame:
    """A CARBS sweep of the simulator; the trial table in the project's contract."""
    from carbs import CARBS, CARBSConfig
    from carbs.sweep.settings import params_from_search_space

    problem = ChinchillaProblem()
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=seed,
                            max_suggestion_cost=SWEEP_MAX_SUGGESTION_COST),
                params_from_search_space(SPACE))
    rows = []
    for i in range(n_trials):
        s = opt.suggest()
        ev = problem.evaluate(dict(s.config), np.random.default_rng([seed, i]))
        opt.observe(s, output=math.nan if ev.failed else ev.output, cost=ev.cost,
                    is_failure=ev.failed)
        rows.append({"trial_id": f"{seed}-{i}", "status": "failed" if ev.failed else "ok",
                     "output": ev.output, "cost": ev.cost,
                     **{f"param.{k}": v for k, v in s.config.items()},
                     **{f"metric.{k}": v for k, v in ev.metrics.items()}})
    return pd.DataFrame(rows)


def _round_size(width: float, depth: float, n_target: float) -> tuple[int, int]:
    """The (width multiple of 8, integer depth) neighbours of a continuous size closest to
    N = 12 depth width^2 = n_target, within the simulator's box."""
    best, err = None, math.inf
    for w, d in itertools.product((math.floor(width / 8) * 8, math.ceil(width / 8) * 8),
                                  (math.floor(depth), math.ceil(depth))):
        w, d = min(max(w, 64), 4096), min(max(d, 2), 48)
        e = abs(math.log(12 * d * w * w / n_target))
        if e < err:
            best, err = (int(w), int(d)), e
    return best


def scale_size(best: dict, n_target: float, budget: float) -> dict:
    """``best`` with width and depth scaled by one factor to N = n_target and tokens spending
    the budget; learning rate, warm-up and weight decay kept."""
    n_best = 12.0 * best["depth"] * best["width"] ** 2
    s = (n_target / n_best) ** (1.0 / 3.0)
    w, d = _round_size(best["width"] * s, best["depth"] * s, n_target)
    return {**best, "width": w, "depth": d, "tokens": budget / (6.0 * 12.0 * d * w * w)}


def evaluate(config: dict, budget: float) -> dict:
    """Noise-free loss, gap to the true optimum at ``budget``, spend, divergence."""
    problem = ChinchillaProblem()
    config = check_config(problem.dims, dict(config))  # the simulator's box, as a run sees it
    loss, n, d = problem.expected(config)
    opt = float(problem.reference_front(np.array([budget]))[0])
    diverged = config["lr"] > DIVERGENCE_FACTOR * float(lr_opt(n))
    return {"loss": loss, "optimum": opt, "gap": math.inf if diverged else loss - opt,
            "spend": 6.0 * n * d / budget, "N": n, "D": d, "diverged": bool(diverged)}


def one_seed(seed: int, n_trials: int, n_bootstrap: int, ablation: bool = False) -> list[dict]:
    """Sweep, recommend, evaluate all methods at 10C and 100C for one seed (with
    ``ablation``, also the recommendation with ``laws="front"``)."""
    t0 = time.perf_counter()
    table = run_sweep(seed, n_trials)
    t_sweep = time.perf_counter() - t0
    ok = table[table["status"] == "ok"]
    c = float(ok["cost"].max())
    budgets = [f * c for f in FACTORS]
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = recommend(table, budgets, SPACE, n_bootstrap=n_bootstrap, seed=seed)
        t_rec = time.perf_counter() - t1
        front = recommend(table, budgets, SPACE, n_bootstrap=n_bootstrap, seed=seed,
                          laws="front") if ablation else None
    best_row = ok.loc[ok["output"].idxmin()]
    best = {k: float(best_row[f"param.{k}"]) for k in SPACE}
    out = []
    for i, (factor, budget, item) in enumerate(zip(FACTORS, budgets, rec.recommendations)):
        configs = {
            "ours": {k: float(v) for k, v in item.params.items()},
            "tok20": scale_size(best, math.sqrt(budget / 120.0), budget),
            "a3_best_lr": scale_size(best, item.allocation["approaches"]["approach3"]["N"],
                                     budget),
        }
        if front is not None:
            configs[ABLATION] = {k: float(v) for k, v in front.recommendations[i].params.items()}
        approaches = item.allocation["approaches"]
        n_true = float(LAW.compute_optimal(budget)["N_opt"].iloc[0])
        for method, cfg in configs.items():
            res = evaluate(cfg, budget)
            out.append({"seed": seed, "factor": factor, "budget": budget, "sweep_max_cost": c,
                        "method": method, **res, "lr": cfg["lr"], "warmup": cfg["warmup"],
                        "weight_decay": cfg["weight_decay"], "width": cfg["width"],
                        "depth": cfg["depth"], "follows": rec.follow,
                        "n_front": rec.n_front, "sweep_s": t_sweep, "recommend_s": t_rec,
                        "N_true": n_true, "N_front_law": approaches["front"]["N"],
                        "N_approach3": approaches["approach3"]["N"]})
    return out


def summarise(rows: pd.DataFrame) -> dict:
    """Medians and spreads of the gaps per method and budget factor."""
    fig: dict = {}
    methods = [m for m in (*METHODS, ABLATION) if m in set(rows["method"])]
    for factor in FACTORS:
        for m in methods:
            g = rows[(rows["factor"] == factor) & (rows["method"] == m)]["gap"]
            fig[f"gap_{factor}x_{m}_median"] = float(np.median(g))
            fig[f"gap_{factor}x_{m}_min"] = float(g.min())
            fig[f"gap_{factor}x_{m}_max"] = float(g.max())
        med = {m: fig[f"gap_{factor}x_{m}_median"] for m in METHODS}
        fig[f"best_{factor}x"] = min(med, key=med.get)
        fig[f"ratio_{factor}x_tok20_over_ours"] = med["tok20"] / med["ours"]
        fig[f"ratio_{factor}x_a3_best_lr_over_ours"] = med["a3_best_lr"] / med["ours"]
    return fig


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recommend",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 seeds x 50 trials, no ablation (< 60 s)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds (default 5; quick 3)")
    parser.add_argument("--trials", type=int, default=None, help="trials per sweep")
    parser.add_argument("--csv", default=None, help="also write every row to this CSV")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    n_trials = args.trials or (QUICK_TRIALS if args.quick else FULL_TRIALS)
    args.seeds = args.seeds or (3 if args.quick else 5)
    n_boot = 100 if args.quick else 1000
    t0 = time.perf_counter()
    rows = []
    for seed in range(args.seeds):
        rows += one_seed(seed, n_trials, n_boot, ablation=not args.quick)
    df = pd.DataFrame(rows)
    if args.csv:
        df.to_csv(args.csv, index=False)
    pd.set_option("display.width", 200)
    print(f"Chinchilla simulator: CARBS sweep of {n_trials} trials up to C (its largest run), "
          f"recommend for 10C and 100C; loss gap to the true optimum (noise-free), "
          f"{args.seeds} seeds")
    methods = [m for m in (*METHODS, ABLATION) if m in set(df["method"])]
    table = df.pivot_table(index=["factor", "seed"], columns="method", values="gap")[methods]
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    fig = summarise(df)
    for factor in FACTORS:
        print(f"{factor}x C, median gap [min, max]:")
        for m in methods:
            print(f"  {LABELS[m]:<36} {fig[f'gap_{factor}x_{m}_median']:.4f} "
                  f"[{fig[f'gap_{factor}x_{m}_min']:.4f}, {fig[f'gap_{factor}x_{m}_max']:.4f}]")
    ours = df[df["method"] == "ours"]
    alloc = {k: float(np.median(np.abs(np.log10(ours[k] / ours["N_true"]))))
             for k in ("N_approach3", "N_front_law")}
    print(f"allocation: median |log10(N / N_true)|: Approach 3 {alloc['N_approach3']:.3f}, "
          f"the front's law of N {alloc['N_front_law']:.3f}")
    result = {"benchmark": "recommend", "quick": bool(args.quick), "seeds": args.seeds,
              "alloc_log10_err_approach3": alloc["N_approach3"],
              "alloc_log10_err_front": alloc["N_front_law"],
              "trials": n_trials, "sweep_max_cost_median": float(df["sweep_max_cost"].median()),
              "spend_max_abs_error": float((df["spend"] - 1).abs().max()),
              "diverged": int(df["diverged"].sum()),
              **fig, "seconds": round(time.perf_counter() - t0, 1)}
    result = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
              for k, v in result.items()}  # standard JSON: a diverged run is counted, not inf
    print(json.dumps(result, allow_nan=False))
    return result


if __name__ == "__main__":
    main()
