"""suggest() latency: our CARBS against two baselines, every arm timed in the same process at
the same thread count.

    python -m benchmarks.suggest_latency [--quick] [--threads N] [--only N_OBS:DIMS]

``--threads N`` (default 1) applies to every arm: torch's thread pool and the BLAS pools
(threadpoolctl) are set to N for the whole run, and CARBS gets ``num_threads=N``. For n
observations (50, 200, 1000) and 4 / 10 parameters, on the same synthetic data, each arm is timed
on its *cold* call (the first call given the n observations: a fresh optimiser, study or models)
and on its *warm* calls (6 observe-then-suggest cycles right after, at n+1 ... n+6 observations;
median and mean). Our arms are timed in wall and in CPU seconds (the CPU time of a 1-thread call
is what a loaded machine inflates least).

Arms:

- ours: ``CARBS.suggest()`` (warm calls start their GP fits from the previous hyperparameters;
  beyond ``max_fit_points`` observations the fit is kept for up to ``max_fit_skips`` calls and
  the posterior extended by the new rows);
- ours, refit every call (``max_fit_skips=0``; only above 300 observations, where it differs):
  the same optimiser without that, with the mean objective of the warm suggestions of both, so
  the speed is not bought with worse suggestions;
- reference fitting procedure: 3 GPs, Adam 1e-4 x 1000 steps each. What the reference
  implementation does on every suggest(): fresh gpytorch GPs for output, cost and Pareto set
  (our kernels: Linear + Matern 3/2 ARD; RBF for the Pareto set), each fitted with Adam at lr
  1e-4 for 1000 steps, then one prediction of all candidates. It refits from scratch on every
  call, so its cold and warm calls do the same work (both are timed). When fewer Adam steps are
  timed (to bound the run time), the fit time is extrapolated linearly to 1000 steps and the
  figures say ``"reference_extrapolated": true``. This emulates the reference's procedure with
  our models; the reference's own code (pyro) is not run here.
- Optuna ``GPSampler(seed=0)`` at its best (with ``greenlet`` installed it runs its L-BFGS-B
  restarts batched; the JSON says whether greenlet was importable): cold = the first ``ask()``
  of a study given the n trials, warm = the median of the next 3 (each told its result first).

The data has no failures, so no success model is fitted by any arm. Resampling is off
(``resample_frequency=0``) so every timed suggest() runs the full BO path. The last stdout line
is a JSON list with one object per (n_obs, dims).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import time
import warnings

import gpytorch
import numpy as np
import threadpoolctl
import torch

from carbs import CARBS, CARBSConfig, LinearSpace, LogSpace, Param
from carbs.encoder import ParamEncoder
from carbs.pareto import group_basic_resamples, pareto_group_indices
from carbs.surrogate import CostScaler, GaussianProcess, OutputWarp, exact_settings

REF_STEPS = 1000
REPEATS = 6
OPTUNA_REPEATS = 3  # an ask at 1,000 trials takes ~10 s
REFERENCE_NAME = "reference fitting procedure: 3 GPs, Adam 1e-4 x 1000 steps each"


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
    """n observations spread around the center (as a sweep's history would be)."""
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


def time_ours(params, data, threads: int, device: str = "cpu") -> tuple[float, float]:
    """(cold, warm median) wall seconds of :func:`time_ours_detail` (``benchmarks/gpu_check.py``
    times it on CUDA)."""
    r = time_ours_detail(params, data, threads, device)
    return r["cold"], r["warm"]


def time_ours_detail(params, data, threads: int, device: str = "cpu",
                     **config: object) -> dict[str, float]:
    """The first suggest() of a fresh optimiser given the n observations (cold), then
    ``REPEATS`` observe-then-suggest cycles (warm: median and mean), in wall and CPU seconds;
    ``objective`` is the mean objective of the warm suggestions (lower is better: a check
    that a faster setting suggests as well). ``device``: CARBSConfig.device; ``config``: other
    CARBSConfig fields."""
    cfg = CARBSConfig(better_direction_sign=-1, seed=0, resample_frequency=0, num_threads=threads,
                      device=device, **config)
    opt = CARBS(cfg, params)
    for c, y, k in data:
        opt.observe(c, y, k)
    t, c0 = time.perf_counter(), time.process_time()
    s = opt.suggest()
    cold, cold_cpu = time.perf_counter() - t, time.process_time() - c0
    warm, warm_cpu, values = [], [], []
    for _ in range(REPEATS):
        y, k = objective(opt.encoder.to_basic([s.config])[0])
        opt.observe(s, y, k)
        values.append(y)
        t, c0 = time.perf_counter(), time.process_time()
        s = opt.suggest()
        warm.append(time.perf_counter() - t)
        warm_cpu.append(time.process_time() - c0)
    return {"cold": cold, "warm": float(np.median(warm)), "warm_mean": float(np.mean(warm)),
            "cold_cpu": cold_cpu, "warm_cpu": float(np.median(warm_cpu)),
            "warm_cpu_mean": float(np.mean(warm_cpu)), "objective": float(np.mean(values))}


def time_reference(params, data, steps: int) -> float:
    """One call of the reference fitting procedure on ``data``: fresh GPs, Adam lr 1e-4,
    ``steps`` steps each (the fit time extrapolated to 1000 steps), then predict."""
    enc = ParamEncoder(params)
    x = enc.to_basic([c for c, _, _ in data])
    y = -np.array([v for _, v, _ in data])
    cost = np.array([k for _, _, k in data])
    dev = torch.device("cpu")
    t0 = time.perf_counter()
    warp, scaler = OutputWarp(y), CostScaler(cost)
    groups = group_basic_resamples(x, y, cost)
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
        with exact_settings():
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
    with torch.no_grad(), exact_settings():
        post = models[0].model(cand)
        _ = post.mean, post.variance
        cm = models[1].model(cand).mean
        _ = models[2].model(cm.clamp(float(px.min()), float(px.max())).reshape(-1, 1)).mean
    total_wall = time.perf_counter() - t0
    return total_wall - fit_wall + fit_extrapolated


def time_reference_arm(params, data, steps: int) -> tuple[float, float]:
    """(cold, warm) of the reference procedure: on the n observations, then on n+1 (it
    refits from scratch each time; one warm call, as its cost does not depend on history)."""
    cold = time_reference(params, data, steps)
    extra = make_data(params, 1, seed=len(data) + 7)[0]
    warm = time_reference(params, [*data, extra], steps)
    return cold, warm


def time_optuna(params, data) -> tuple[float, float] | None:
    """(cold, warm) of Optuna's GPSampler: the first ask() of a study given the n trials, then
    the median of ``OPTUNA_REPEATS`` asks (each told its result first). None without Optuna."""
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
    enc = ParamEncoder(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.GPSampler(seed=0))
        study.add_trials([create_trial(params={k: float(v) for k, v in c.items()},
                                       distributions=dists, value=y, state=TrialState.COMPLETE)
                          for c, y, _ in data])
        times = []
        for _ in range(OPTUNA_REPEATS + 1):
            t = time.perf_counter()
            trial = study.ask(dists)
            times.append(time.perf_counter() - t)
            c = {k: float(v) for k, v in trial.params.items()}
            study.tell(trial, objective(enc.to_basic([c])[0])[0])
    return times[0], float(np.median(times[1:]))


def _rnd(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else round(a / b, 1)


def run_setting(n: int, dims: int, steps: int, threads: int) -> dict:
    """All arms on one (n_obs, dims) setting; returns its JSON figures."""
    params = make_params(dims)
    data = make_data(params, n, seed=n + dims)
    ours = time_ours_detail(params, data, threads)
    # beyond max_fit_points (300) observations the default keeps the GP fit for up to
    # max_fit_skips calls; the same optimiser refitting on every call is the in-run baseline
    every = time_ours_detail(params, data, threads, max_fit_skips=0) if n > 300 else None
    ref_cold, ref_warm = time_reference_arm(params, data, steps)
    opt = time_optuna(params, data)
    opt_cold, opt_warm = (None, None) if opt is None else opt
    out = {
        "benchmark": "suggest_latency", "n_obs": n, "dims": dims, "threads": threads,
        "warm_calls": REPEATS,
        "ours_cold_s": _rnd(ours["cold"]), "ours_warm_s": _rnd(ours["warm"]),
        "ours_warm_mean_s": _rnd(ours["warm_mean"]), "ours_cold_cpu_s": _rnd(ours["cold_cpu"]),
        "ours_warm_cpu_s": _rnd(ours["warm_cpu"]),
        "ours_warm_cpu_mean_s": _rnd(ours["warm_cpu_mean"]),
        "ours_warm_objective": _rnd(ours["objective"]),
        "reference": REFERENCE_NAME,
        "reference_cold_s": round(ref_cold, 3), "reference_warm_s": round(ref_warm, 3),
        "reference_extrapolated": steps < REF_STEPS, "reference_steps_timed": steps,
        "optuna_gp_cold_s": _rnd(opt_cold), "optuna_gp_warm_s": _rnd(opt_warm),
        "optuna_greenlet": importlib.util.find_spec("greenlet") is not None,
        "speedup_cold_vs_reference": _ratio(ref_cold, ours["cold"]),
        "speedup_warm_vs_reference": _ratio(ref_warm, ours["warm"]),
        "speedup_cold_vs_optuna": _ratio(opt_cold, ours["cold"]),
        "speedup_warm_vs_optuna": _ratio(opt_warm, ours["warm"]),
    }
    if every is not None:
        out |= {"refit_every_call_warm_s": _rnd(every["warm"]),
                "refit_every_call_warm_mean_s": _rnd(every["warm_mean"]),
                "refit_every_call_warm_cpu_s": _rnd(every["warm_cpu"]),
                "refit_every_call_warm_objective": _rnd(every["objective"]),
                "speedup_warm_vs_refit_every_call": _ratio(every["warm_mean"],
                                                           ours["warm_mean"])}
    return out


def main(argv: list[str] | None = None,
         grid: list[tuple[int, int, int]] | None = None) -> None:
    """Run the benchmark; ``grid`` ((n_obs, dims, timed reference steps) triples) overrides
    the settings (for tests)."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.suggest_latency", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small version (< 60 s on 2 cores)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch and BLAS threads for every arm (default 1)")
    ap.add_argument("--only", default=None, metavar="N_OBS:DIMS",
                    help="one setting instead of the grid, e.g. 1000:10")
    args = ap.parse_args(argv)
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    logging.basicConfig(level=logging.WARNING)
    if grid is not None:
        pass
    elif args.only is not None:
        n, _, d = args.only.partition(":")
        if not (n.isdigit() and d.isdigit()):
            ap.error(f"--only must be N_OBS:DIMS, e.g. 1000:10, got {args.only!r}")
        grid = [(int(n), int(d), 1000 if int(n) <= 50 else 200 if int(n) <= 200 else 20)]
    elif args.quick:
        grid = [(50, 4, 20), (200, 10, 10)]
    else:
        grid = [(50, 4, 1000), (50, 10, 1000), (200, 4, 200), (200, 10, 200), (1000, 4, 20),
                (1000, 10, 20)]
    torch.set_num_threads(args.threads)
    print(f"every arm at {args.threads} thread(s); reference = {REFERENCE_NAME}", flush=True)
    results = []
    with threadpoolctl.threadpool_limits(limits=args.threads):
        for n, dims, steps in grid:
            r = run_setting(n, dims, steps, args.threads)
            results.append(r)
            ext = " (extrapolated)" if r["reference_extrapolated"] else ""
            every = ("" if "refit_every_call_warm_s" not in r else
                     f" (refit every call: {r['refit_every_call_warm_s']:.3f}s warm, "
                     f"objective {r['refit_every_call_warm_objective']} vs ours "
                     f"{r['ours_warm_objective']})")
            print(f"n={n:5d} dims={dims:2d} threads={args.threads}  "
                  f"ours {r['ours_cold_s']:.3f}s cold / {r['ours_warm_s']:.3f}s warm "
                  f"(CPU {r['ours_cold_cpu_s']:.3f} / {r['ours_warm_cpu_s']:.3f}){every}  "
                  f"reference {r['reference_cold_s']:.2f}s / {r['reference_warm_s']:.2f}s{ext}  "
                  f"optuna GP {r['optuna_gp_cold_s']}s / {r['optuna_gp_warm_s']}s  "
                  f"-> vs reference {r['speedup_cold_vs_reference']}x cold, "
                  f"{r['speedup_warm_vs_reference']}x warm; vs optuna "
                  f"{r['speedup_cold_vs_optuna']}x cold, {r['speedup_warm_vs_optuna']}x warm",
                  flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
