"""suggest() latency of our CARBS against two baselines measured in the same process.

    python -m benchmarks.suggest_latency [--quick] [--threads 2]

For n observations (50, 200, 1000) and 4 / 10 parameters, on the same synthetic data:

- ours, steady state: the optimiser suggested once at n-1 observations, observed that run
  (the n-th observation), then we time the next suggest() (warm-started GP fits); median of
  3 such observe-then-suggest cycles (n, n+1, n+2 observations);
- ours, cold: a fresh optimiser given the n observations, first suggest() timed;
- reference procedure: fresh gpytorch GPs for output / cost / Pareto with the same kernels,
  fitted with Adam at lr 1e-4 for 1000 steps each (as the reference implementation does), then
  predicting the same number of candidates. When fewer steps are timed (to bound the run
  time), the time is extrapolated linearly to 1000 steps and labelled
  ``"reference_extrapolated": true``;
- Optuna's GPSampler (seeded): median time of 3 ``ask()`` calls after the same n trials were
  added as FrozenTrials (each asked trial is told its result, as in a sweep).

The data has no failures, so no success model is fitted by either procedure. Resampling is
off (``resample_frequency=0``) so every timed suggest() runs the full BO path. The last stdout
line is a JSON list with one object per (n_obs, dims).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
import warnings

import gpytorch
import numpy as np
import torch

from carbs import CARBS, CARBSConfig, LinearSpace, LogSpace, Param
from carbs._gp import GaussianProcess, _exact_settings
from carbs.encoder import ParamEncoder
from carbs.pareto import group_resamples, pareto_group_indices
from carbs.surrogate import CostScaler, OutputWarp

REF_STEPS = 1000


def make_params(dims: int) -> list[Param]:
    """Half log-scale, half linear parameters."""
    out = []
    for i in range(dims):
        if i % 2 == 0:
            out.append(Param(f"log{i}", LogSpace(min=1e-4, max=1e4), 1.0))
        else:
            out.append(Param(f"lin{i}", LinearSpace(min=-5.0, max=5.0), 0.0))
    return out


def objective(basic: np.ndarray) -> tuple[float, float]:
    """Minimise: a shifted quadratic plus a cost-dependent term; cost grows with dim 0."""
    target = np.linspace(-0.4, 0.4, len(basic))
    cost = float(10 ** (1 + basic[0]))
    loss = float(((basic - target) ** 2).sum() + 2.0 / math.sqrt(cost))
    return loss, cost


def make_data(params: list[Param], n: int, seed: int) -> list[tuple[dict, float, float]]:
    """n observations spread around the centre (as a sweep's history would be)."""
    enc = ParamEncoder(params)
    rng = np.random.default_rng(seed)
    rows: list[np.ndarray] = []
    center = enc.center_basic()
    while len(rows) < n:
        cand, valid = enc.round_basic(center + rng.normal(0, 0.5, size=(4 * n, enc.dim)))
        rows.extend(cand[valid][: n - len(rows)])
    data = []
    for row in rows:
        loss, cost = objective(row)
        data.append((enc.from_basic(row[None])[0], loss, cost))
    return data


def time_ours(params, data, cold: bool, repeats: int = 3) -> float:
    """Cold: first suggest() of a fresh optimiser given all n observations. Steady: the
    optimiser suggested at n-1 observations, observed that run, then suggest() is timed; this
    observe-then-suggest cycle is repeated ``repeats`` times and the median is returned."""
    cfg = CARBSConfig(better_direction_sign=-1, seed=0, resample_frequency=0)
    opt = CARBS(cfg, params)
    head = data if cold else data[:-1]
    for c, y, k in head:
        opt.observe(c, y, k)
    if cold:
        t = time.perf_counter()
        opt.suggest()
        return time.perf_counter() - t
    s = opt.suggest()  # the previous call, at n-1 observations
    times = []
    for _ in range(repeats):
        y, k = objective(opt.encoder.to_basic([s.config])[0])
        opt.observe(s, y, k)
        t = time.perf_counter()
        s = opt.suggest()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def time_reference(params, data, steps: int) -> float:
    """Fresh GPs, Adam lr 1e-4, ``steps`` steps each (extrapolated to 1000), then predict."""
    enc = ParamEncoder(params)
    x = enc.to_basic([c for c, _, _ in data])
    y = -np.array([v for _, v, _ in data])
    cost = np.array([k for _, _, k in data])
    dev = torch.device("cpu")
    t0 = time.perf_counter()
    warp, scaler = OutputWarp(y), CostScaler(cost)
    groups = group_resamples(x, y, cost)
    front = pareto_group_indices(groups)
    px = scaler(groups.mean_cost[front]).reshape(-1, 1)
    py = warp(groups.mean_output[front])
    fit_extrapolated, fit_wall = 0.0, 0.0
    models = []
    for kind, xi, yi in (("matern_linear", x, warp(y)), ("matern_linear", x, scaler(cost)),
                         ("rbf", px, py)):
        gp = GaussianProcess(kind, xi.shape[1], 0.3, dev)
        xt, yt = torch.tensor(xi), torch.tensor(yi)
        gp.model.set_train_data(xt, yt, strict=False)
        gp.model.train()
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(gp.model.likelihood, gp.model)
        adam = torch.optim.Adam(gp.model.parameters(), lr=1e-4)
        ts = time.perf_counter()
        with _exact_settings():
            for _ in range(steps):
                adam.zero_grad()
                loss = -mll(gp.model(xt), yt)
                loss.backward()
                adam.step()
        wall = time.perf_counter() - ts
        fit_wall += wall
        fit_extrapolated += wall * (REF_STEPS / steps)
        gp.model.eval()
        models.append(gp)
    # predict the same number of candidates in one call each, as the reference does
    n_cand = 100 * len(params)
    rng = np.random.default_rng(0)
    cand = torch.tensor(x[rng.integers(0, len(x), n_cand)] + rng.normal(0, 0.3, (n_cand, x.shape[1])))
    with torch.no_grad(), _exact_settings():
        post = models[0].model(cand)
        _ = post.mean, post.variance
        cm = models[1].model(cand).mean
        _ = models[2].model(cm.clamp(float(px.min()), float(px.max())).reshape(-1, 1)).mean
    total_wall = time.perf_counter() - t0
    return total_wall - fit_wall + fit_extrapolated


def time_optuna(params, data, repeats: int = 3) -> float | None:
    """Median time of ``repeats`` ask() calls (each told its result before the next)."""
    try:
        import optuna
    except ImportError:
        return None
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    dists = {}
    for p in params:
        log = isinstance(p.space, LogSpace)
        dists[p.name] = FloatDistribution(p.space.min, p.space.max, log=log)
    sampler = optuna.samplers.GPSampler(seed=0)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.add_trials([create_trial(params={k: float(v) for k, v in c.items()}, distributions=dists,
                                   value=y, state=TrialState.COMPLETE) for c, y, _ in data])
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeats):
            t = time.perf_counter()
            trial = study.ask(dists)
            times.append(time.perf_counter() - t)
            c = {k: float(v) for k, v in trial.params.items()}
            enc = ParamEncoder(params)
            study.tell(trial, objective(enc.to_basic([c])[0])[0])
    return float(np.median(times))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small version (< 60 s on 2 cores)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    if args.quick:
        grid = [(50, 4, 100), (200, 10, 20)]
    else:
        grid = [(50, 4, 1000), (50, 10, 1000), (200, 4, 200), (200, 10, 200), (1000, 4, 20),
                (1000, 10, 20)]
    results = []
    for n, dims, steps in grid:
        params = make_params(dims)
        data = make_data(params, n, seed=n + dims)
        steady = time_ours(params, data, cold=False)
        cold = time_ours(params, data, cold=True)
        ref = time_reference(params, data, steps)
        opt_t = time_optuna(params, data)
        r = {
            "benchmark": "suggest_latency", "n_obs": n, "dims": dims,
            "ours_steady_s": round(steady, 4), "ours_cold_s": round(cold, 4),
            "reference_s": round(ref, 3), "reference_extrapolated": steps < REF_STEPS,
            "reference_steps_timed": steps,
            "optuna_gp_s": None if opt_t is None else round(opt_t, 4),
            "speedup_vs_reference": round(ref / steady, 1),
            "speedup_vs_optuna": None if opt_t is None else round(opt_t / steady, 2),
            "torch_threads": args.threads,
        }
        results.append(r)
        print(f"n={n:5d} dims={dims:2d}  ours steady {steady:7.3f}s  cold {cold:7.3f}s  "
              f"reference {ref:8.2f}s{' (extrapolated)' if steps < REF_STEPS else ''}  "
              f"optuna GP {opt_t if opt_t is not None else float('nan'):7.3f}s  "
              f"-> {r['speedup_vs_reference']}x vs reference, "
              f"{r['speedup_vs_optuna']}x vs optuna", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
