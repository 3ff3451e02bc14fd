"""Benchmark: Chinchilla Approach 3 on Epoch AI's 240 runs, ours vs the straightforward fit.

Problem (its optimum is known, see scaling/data/README.md): the Huber objective
(delta 1e-3, summed) over the 240 lowest-loss runs of ``scaling.chinchilla_epoch()``; optimum
1.01827e-3 at alpha 0.3473, beta 0.3672, E 1.817.

* baseline: scipy L-BFGS-B from each of the 4,500 grid starts, finite-difference gradients, a
  Python loop (what Epoch's replication and most notebooks do);
* ours: :func:`scaling.parametric.fit_grid` (all starts at once by batched damped Newton,
  best few polished by L-BFGS-B with analytic gradients);
* bootstrap: :func:`scaling.parametric.bootstrap_fits`, 4,000 resamples over runs.

``--quick``: the baseline runs on a random subset of 300 grid starts and the comparison is
per start (``speedup_per_start`` = baseline time per start / our time per start, our time
being the full 4,500-start fit) and 400 bootstrap resamples. Both in one process, one thread.
Last stdout line: one JSON object with the figures.

    python -m benchmarks.chinchilla_fit            # full: 4,500 starts each way, 4,000 resamples
    python -m benchmarks.chinchilla_fit --quick    # the baseline on a subset of starts
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import json
import time

import numpy as np
from scipy.optimize import minimize
from scipy.special import huber

from scaling import chinchilla_epoch, fit_approach3, parametric


def _baseline_objective(params, log_n, log_d, log_loss):
    a, b, e, alpha, beta = params
    pred = np.log(np.exp(a - alpha * log_n) + np.exp(b - beta * log_d) + np.exp(e))
    return np.sum(huber(1e-3, log_loss - pred))


#: L-BFGS-B settings of the two baselines. "tight": central finite differences and tight
#: tolerances, the straightforward fit configured to reach the optimum to 1e-9 (relative);
#: "scipy defaults": forward differences, default tolerances (stops ~5e-8 above the optimum).
BASELINES = {
    "tight": {"jac": "3-point", "options": {"ftol": 1e-15, "gtol": 1e-10}},
    "defaults": {"options": {}},
}


def baseline_fit(starts, log_n, log_d, log_loss, variant="tight"):
    """The straightforward procedure: L-BFGS-B (numerical gradients) from every start."""
    best_x, best_f = None, np.inf
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for x0 in starts:
            res = minimize(_baseline_objective, x0, args=(log_n, log_d, log_loss),
                           method="L-BFGS-B", **BASELINES[variant])
            if np.isfinite(res.fun) and res.fun < best_f:
                best_x, best_f = res.x, float(res.fun)
    return best_x, best_f


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chinchilla_fit",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="baseline on 300 random grid starts (per-start comparison), "
                             "400 bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)  # not used here; pinned in case an import pulls it in
    except ImportError:
        pass
    table = chinchilla_epoch().sort_values("output").iloc[:240]
    data = tuple(np.log(table[c].to_numpy()) for c in ("metric.params", "metric.tokens",
                                                        "output"))
    grid = parametric.default_grid()
    ours = _time_ours(grid, data)
    order = np.random.default_rng(args.seed).permutation(len(grid))
    tight = _time_baseline(grid[order[:200]] if args.quick else grid, *data, "tight")
    dflt = _time_baseline(grid[order[:100 if args.quick else 300]], *data, "defaults")
    n_boot = 400 if args.quick else 4000
    boot = _time_bootstrap(ours["theta"], data, n_boot, args.seed)
    p = fit_approach3(table, n_bootstrap=0, progress=False).params  # public API, same optimum
    result = _figures(args.quick, len(grid), len(table), ours, tight, dflt, boot, p)
    _print_summary(args.quick, len(grid), ours, tight, dflt, boot, result, p)
    print(json.dumps(result))
    return result


def _time_ours(grid, data) -> dict:
    """Our full 4,500-start fit (best of 2 timings: the machine is shared)."""
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        theta, f, _batch = parametric.fit_grid(*data, grid)
        times.append(time.perf_counter() - t0)
    return {"s": min(times), "theta": theta, "objective": f}


def _time_baseline(starts, log_n, log_d, log_loss, variant) -> dict:
    t0 = time.perf_counter()
    _, f = baseline_fit(starts, log_n, log_d, log_loss, variant)
    return {"s": time.perf_counter() - t0, "objective": f, "starts": len(starts)}


def _time_bootstrap(theta, data, n_boot: int, seed: int) -> dict:
    t0 = time.perf_counter()
    samples = parametric.bootstrap_fits(theta, *data, n_boot, seed=seed)
    seconds = time.perf_counter() - t0
    se = samples.std(axis=0, ddof=1)
    return {"n": n_boot, "s": seconds, "se": {"alpha": float(se[3]), "beta": float(se[4]),
                                               "E": float(np.std(np.exp(samples[:, 2]), ddof=1))}}


def _figures(quick: bool, n_grid: int, n_runs: int, ours: dict, tight: dict, dflt: dict,
             boot: dict, p: dict) -> dict:
    """The benchmark's JSON object."""
    per_start_base = tight["s"] / tight["starts"]
    per_start_dflt = dflt["s"] / dflt["starts"]
    rel = abs(tight["objective"] - ours["objective"]) / ours["objective"]
    rel_dflt = abs(dflt["objective"] - ours["objective"]) / ours["objective"]
    return {
        "benchmark": "chinchilla_fit",
        "mode": "quick" if quick else "full",
        "n_runs": n_runs,
        "grid_starts": n_grid,
        "ours_s": round(ours["s"], 3),
        "ours_per_start_ms": round(ours["s"] / n_grid * 1e3, 4),
        "baseline": "L-BFGS-B per start, central finite differences, ftol 1e-15, gtol 1e-10",
        "baseline_starts": tight["starts"],
        "baseline_s": round(tight["s"], 3),
        "baseline_per_start_ms": round(per_start_base * 1e3, 3),
        "speedup": round(per_start_base * n_grid / ours["s"], 1),
        "speedup_kind": "per start, baseline on a random subset" if quick
        else "full grid, both measured in this process",
        "ours_objective": ours["objective"],
        "baseline_objective": tight["objective"],
        "objective_rel_diff": rel,
        "same_optimum": bool(rel < 1e-9),
        "defaults_baseline_starts": dflt["starts"],
        "defaults_per_start_ms": round(per_start_dflt * 1e3, 3),
        "defaults_objective": dflt["objective"],
        "defaults_objective_rel_diff": rel_dflt,
        "speedup_vs_defaults_per_start": round(per_start_dflt * n_grid / ours["s"], 1),
        "bootstrap_resamples": boot["n"],
        "bootstrap_s": round(boot["s"], 3),
        "bootstrap_se": boot["se"],
        "params": {k: round(float(p[k]), 5) for k in ("alpha", "beta", "E", "log_A", "log_B",
                                                      "a")},
    }


def _print_summary(quick: bool, n_grid: int, ours: dict, tight: dict, dflt: dict, boot: dict,
                   r: dict, p: dict) -> None:
    label = "random subset of" if quick else "all"
    rel, rel_dflt = r["objective_rel_diff"], r["defaults_objective_rel_diff"]
    print(f"ours:     {ours['s']:8.2f} s for {n_grid} starts "
          f"({ours['s'] / n_grid * 1e3:.3f} ms/start), objective {ours['objective']:.12g}")
    print(f"baseline (L-BFGS-B, central FD, tight tol): {tight['s']:8.2f} s for {label} "
          f"{tight['starts']} starts ({tight['s'] / tight['starts'] * 1e3:.2f} ms/start), "
          f"objective {tight['objective']:.12g}, relative difference {rel:.3g} "
          f"({'same optimum' if rel < 1e-9 else 'NOT within 1e-9'})")
    print(f"baseline (L-BFGS-B, scipy defaults): {dflt['s']:8.2f} s for a random subset of "
          f"{dflt['starts']} starts ({dflt['s'] / dflt['starts'] * 1e3:.2f} ms/start), "
          f"objective {dflt['objective']:.12g}, relative difference {rel_dflt:.3g}")
    kind = "projected from per-start time (quick)" if quick else "measured, full grid"
    speedup = tight["s"] / tight["starts"] * n_grid / ours["s"]
    speedup_dflt = dflt["s"] / dflt["starts"] * n_grid / ours["s"]
    print(f"speedup vs tight baseline ({kind}): {speedup:.1f}x; vs scipy defaults (projected "
          f"per start): {speedup_dflt:.1f}x")
    se = boot["se"]
    print(f"bootstrap: {boot['n']} resamples in {boot['s']:.2f} s; SE alpha {se['alpha']:.4f}, "
          f"beta {se['beta']:.4f}, E {se['E']:.4f}")
    print(f"fit: alpha {p['alpha']:.4f} beta {p['beta']:.4f} E {p['E']:.4f} "
          f"ln A {p['log_A']:.4f} ln B {p['log_B']:.4f} a {p['a']:.4f}")


if __name__ == "__main__":
    main()
