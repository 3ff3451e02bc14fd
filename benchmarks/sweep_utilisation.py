"""How busy a sweep keeps its workers: batch-synchronous vs asynchronous (steady-state)
scheduling of the CARBS sweeper, on Hydra's joblib launcher.

    python -m benchmarks.sweep_utilisation            # 64 trials at 2, 4 and 8 workers
    python -m benchmarks.sweep_utilisation --quick    # 16 trials at 8 workers, 10x shorter (< 60 s)
    python -m benchmarks.sweep_utilisation --workers 8 --arms async async+shorten

The task replays the project's own ``lm_tiny`` sweep (``notebooks/data/lm_tiny.sqlite``, 63
successful trials of a tiny LM on CPU, 6 s to 607 s each). CARBS tunes the same five parameters
as ``conf/sweep/lm_tiny.yaml``, so it faces the real sweep's spread of trial lengths and its
cost/loss trade-off. A trial returns the validation loss of the recorded trial nearest to its
configuration (in the search space's basic coordinates) and sleeps; ``--replay`` says for how
long and what it charges:

- ``flops`` (default): as the real sweep does (``cost: metric.flops``), the cost is the trial's
  training FLOPs from the recipe's own formula (``recipes.lm.model.training_flops``, tabulated
  here over the search space's widths and depths), and it sleeps for the recorded table's
  seconds-per-FLOPs law (a log-log fit over its 63 trials) at those FLOPs, times the nearest
  recorded trial's own deviation from that law (its timing noise: sd 0.41 in log-seconds),
  divided by ``--scale`` (default 10: 0.5 s to 59 s). The sleep follows the trial's size, as a
  real trial's does, so the sweep can predict it only as well as real timings allow;
- ``nearest``: it sleeps for the nearest recorded trial's ``metric.job_seconds`` / ``--scale``
  and charges those seconds as its cost. A change of learning rate can then land on a 10x
  longer recorded trial, so a trial's length does not follow its size: no sweep can predict it,
  which no real sweep faces (its cost is FLOPs).

The arms run in this process, one after the other at each worker count, with the same app,
seed, budget (``max_trials``) and launcher (joblib, a pool of ``n_jobs`` processes):

- ``batch``: ``hydra.sweeper.schedule=batch`` (CARBS suggests ``n_jobs`` at once; the next batch
  waits for the slowest trial: how Hydra's Optuna and Nevergrad sweepers work too);
- ``async``: ``schedule=async final_wave=none`` (a freed worker gets the next suggestion at
  once);
- ``async+shorten``: ``schedule=async final_wave=shorten`` (launches capped to end with the
  trials in flight or the sweep's expected last launch: :mod:`carbs.sweep.final_wave`).

``--arms`` picks some (``--quick`` runs the two async ones). Trial lengths and CARBS's choices
depend on timing, so two runs of one arm differ: a single run compares arms loosely.

Figures per arm, both ways (the sweeps' own records give every trial's start and end):

- utilisation over the whole span = busy worker-seconds / (workers x span), span = the first
  trial's start to the last trial's end;
- utilisation up to the last launch: the same, over the first start to the last launch;
- the drain = the last launch to the last end: the budget is spent, nothing more may start,
  and the workers fall idle one by one as the last trials end. No scheduler avoids it without
  knowing the trials' lengths in advance or choosing shorter trials near the end (which
  changes the search): the benchmark prints the mean utilisation of a zero-overhead scheduler
  blind to trial lengths (trials drawn at random from the recorded lengths); ``final_wave:
  shorten`` chooses shorter trials near the end; ``--cost-arm`` measures a cost budget with
  ``max_trial_cost_fraction`` (late suggestions capped at a share of what is left);
- wall = the whole sweep command (start-up, pool start, suggestions; no plots); busy = the trials'
  summed seconds (CARBS picks the trials, so the two arms do not run the same work: compare
  utilisation, not walls); trials per worker-hour (over the span);
- front quality = hypervolume of the (log10 cost, loss) Pareto front of the trials, as a
  fraction of the recorded table's own front, after the same number of trials and after the
  same span (the shorter arm's).

Sleeping trials use no CPU, so the workers' count is not limited by the cores, but starting 8
worker processes on 2 busy cores takes seconds (it counts in the wall, not in the span). The
last line is a JSON list: one object per (workers, schedule), then one summary object per
worker count (each arm's figures, and the fronts at equal trials and at the shortest span).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sqlite3
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.hydra_multirun import time_multirun

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "notebooks" / "data" / "lm_tiny.sqlite"
SWEEP_YAML = REPO / "conf" / "sweep" / "lm_tiny.yaml"
#: the recorded sweep's tokenizer vocabulary (metric.vocab_size in its table)
VOCAB_SIZE = 4096


# --- the replay task (imported by the joblib workers) -----------------------------------------
@lru_cache(maxsize=2)
def _recorded(table: str) -> tuple[list[str], list[str], dict, np.ndarray, np.ndarray,
                                   np.ndarray, np.ndarray]:
    """The recorded successful trials: parameter names, their space kinds, the space, basic
    coordinates (standardised to [0, 1]), losses, seconds and training FLOPs."""
    con = sqlite3.connect(f"file:{table}?mode=ro", uri=True)
    space = json.loads(dict(con.execute("SELECT key, value FROM meta"))["space"])
    names = list(space)
    cols = ", ".join(f'"param.{n}"' for n in names)
    rows = con.execute(f'SELECT {cols}, output, "metric.job_seconds", "metric.flops" FROM trials '
                       "WHERE status = 'ok' AND \"metric.job_seconds\" IS NOT NULL").fetchall()
    con.close()
    kinds = [{"LogSpace": "log", "LogitSpace": "logit"}.get(space[n]["type"], "linear")
             for n in names]
    data = np.array(rows, dtype=float)
    basic = _basic(data[:, :-3], kinds, space, names)
    return names, kinds, space, basic, data[:, -3], data[:, -2], data[:, -1]


def seconds_law(flops: np.ndarray, seconds: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line of log seconds on log FLOPs."""
    slope, intercept = np.polyfit(np.log(flops), np.log(seconds), 1)
    return float(slope), float(intercept)


@lru_cache(maxsize=2)
def _recorded_law(table: str) -> tuple[float, float]:
    """:func:`seconds_law` of the recorded trials, fitted once per worker process."""
    *_, seconds, flops = _recorded(table)
    return seconds_law(flops, seconds)


def _basic(values: np.ndarray, kinds: list[str], space: dict, names: list[str]) -> np.ndarray:
    from tays import forward

    out = np.empty_like(values, dtype=float)
    for j, (kind, name) in enumerate(zip(kinds, names)):
        lo, hi = forward(kind, space[name]["min"]), forward(kind, space[name]["max"])
        out[:, j] = (forward(kind, values[:, j]) - lo) / (hi - lo)
    return out


def replay_task(cfg: Any) -> dict:
    """The recorded trial nearest to ``cfg``: its loss, after sleeping for the (scaled) seconds
    ``cfg.replay`` gives (``flops``: the table's seconds-per-FLOPs law at this trial's FLOPs
    times the nearest trial's deviation from it, cost = FLOPs; ``nearest``: the nearest trial's
    seconds, cost = those seconds)."""
    names, kinds, space, basic, loss, seconds, flops = _recorded(str(cfg.table))
    query = np.array([[float(_get(cfg, n)) for n in names]])
    i = int(np.argmin(((basic - _basic(query, kinds, space, names)) ** 2).sum(axis=1)))
    if cfg.replay == "nearest":
        duration = float(seconds[i]) / float(cfg.scale)
        time.sleep(duration)
        return {"output": float(loss[i]), "cost": duration, "metric.replayed": i}
    slope, intercept = _recorded_law(str(cfg.table))
    key = f"{int(cfg.model.d_model)}x{int(cfg.model.n_layers)}"
    if key not in cfg.flops_per_token:
        raise KeyError(f"no FLOPs per token for d_model x n_layers = {key}: the benchmark "
                       f"tabulates the search space's grid only")
    cost = float(cfg.flops_per_token[key]) * int(cfg.train.tokens)
    noise = math.log(seconds[i]) - (slope * math.log(flops[i]) + intercept)
    duration = math.exp(slope * math.log(cost) + intercept + noise) / float(cfg.scale)
    time.sleep(duration)
    return {"output": float(loss[i]), "cost": cost, "metric.replayed": i,
            "metric.seconds": duration}


def _get(cfg: Any, path: str) -> Any:
    node = cfg
    for part in path.split("."):
        node = node[part]
    return node


replay_task.result_keys = ("output", "cost", "metric.replayed", "metric.seconds")


# --- running and measuring --------------------------------------------------------------------
def _flops_per_token(space: dict) -> dict[str, int]:
    """The recipe's training FLOPs per token of every (d_model, n_layers) the sweep can suggest
    (``"<d_model>x<n_layers>"``), computed here so that the workers need not import torch."""
    from recipes.lm.config import ModelConfig
    from recipes.lm.model import flops_per_token

    width, depth = space["model.d_model"], space["model.n_layers"]
    step = int(width.get("rounding_factor", 1))
    out = {}
    for d in range(int(width["min"]), int(width["max"]) + 1, step):
        for n in range(int(depth["min"]), int(depth["max"]) + 1):
            # as conf/sweep/lm_tiny.yaml: model=tiny, head_dim 32, the corpus's 4096 tokens
            out[f"{d}x{n}"] = flops_per_token(ModelConfig(d_model=d, n_layers=n, n_heads=d // 32,
                                                          head_dim=32, context_length=128),
                                              VOCAB_SIZE)
    return out


def _write_app(conf_dir: Path, scale: float, replay: str = "flops") -> None:
    from omegaconf import OmegaConf

    sweeper = OmegaConf.load(SWEEP_YAML).hydra.sweeper
    space = OmegaConf.to_container(sweeper.search_space)
    config: dict[str, Any] = {"scale": scale, "table": str(TABLE), "replay": replay,
                              "flops_per_token": _flops_per_token(space) if replay == "flops"
                              else {}, "hydra": {"job": {"chdir": False}}}
    for path, spec in space.items():
        node = config
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = spec["center"]
    (conf_dir / "sweep").mkdir(parents=True, exist_ok=True)
    (conf_dir / "config.yaml").write_text(OmegaConf.to_yaml(config))
    sweep = {"defaults": [{"override /hydra/sweeper": "carbs"},
                          {"override /hydra/launcher": "joblib"}],
             "hydra": {"sweeper": {"cost": "cost", "seed": 0, "plot_interval_s": None,
                                   "search_space": space}}}
    (conf_dir / "sweep" / "replay.yaml").write_text("# @package _global_\n"
                                                    + OmegaConf.to_yaml(sweep))


def _run(conf_dir: Path, sweep_dir: Path, overrides: list[str]) -> float:
    """One in-process Hydra multirun; returns its wall time."""
    # by its module's name (not __main__), so that the joblib workers can unpickle it
    from benchmarks.sweep_utilisation import replay_task

    return time_multirun(replay_task, conf_dir, ["+sweep=replay",
                                                 f"hydra.sweep.dir={sweep_dir}", *overrides],
                         prog="sweep_utilisation")


def _hypervolume(cost: np.ndarray, loss: np.ndarray, ref: tuple[float, float]) -> float:
    """Area dominated by the (log10 cost, loss) points below ``ref`` (both minimised): from the
    cheapest point up, each point that lowers the best loss so far adds the strip between its
    loss and the previous best, from its cost to the reference cost."""
    order = np.argsort(cost)
    area, level = 0.0, ref[1]
    for x, y in zip(np.log10(cost[order]), loss[order]):
        if x >= ref[0]:
            break
        if y < level:
            area += (ref[0] - x) * (level - y)
            level = y
    return area


#: the arms: name -> (schedule, final_wave)
ARMS = {"batch": ("batch", "none"), "async": ("async", "none"),
        "async+shorten": ("async", "shorten")}


def measure(n_jobs: int, arm: str, trials: int, work: Path, conf_dir: Path,
            max_cost: float | None = None, fraction: float | None = None) -> dict:
    """One sweep of an arm of :data:`ARMS`; its figures (plus the raw trials for the front
    comparison). With ``max_cost``: a cost budget (and ``max_trial_cost_fraction``) instead of
    ``trials``."""
    from carbs.sweep.journal import load_trials

    schedule, final_wave = ARMS[arm]
    name = arm if max_cost is None else f"{arm}+cost"
    sweep_dir = work / f"{name}-{n_jobs}"
    budget = ([f"hydra.sweeper.max_trials={trials}"] if max_cost is None else
              ["hydra.sweeper.max_trials=null", f"hydra.sweeper.max_cost={max_cost:.6g}",
               f"hydra.sweeper.max_trial_cost_fraction={fraction}"])
    wall = _run(conf_dir, sweep_dir, [f"hydra.sweeper.n_jobs={n_jobs}",
                                      f"hydra.sweeper.schedule={schedule}",
                                      f"hydra.sweeper.final_wave={final_wave}", *budget])
    df = load_trials(sweep_dir)
    if (max_cost is None and len(df) != trials) or (df["status"] != "ok").any():
        raise RuntimeError(f"{name} at {n_jobs} workers: {df['status'].value_counts()}")
    trials = len(df)
    starts, ends, busy = [], [], 0.0
    for job in df["job_num"]:
        start = json.loads((sweep_dir / ".carbs" / "workers" / f"job-{job}.json").read_text())
        result = json.loads((sweep_dir / ".carbs" / "results" / f"job-{job}.json").read_text())
        starts.append(start["started"])
        ends.append(result["ended"])
        busy += result["ended"] - start["started"]
    starts, ends = np.array(starts), np.array(ends)
    span = float(ends.max() - starts.min())
    # until the last launch: after it the budget is spent and workers fall idle one by one as
    # the last trials end, whatever the scheduling (the tail)
    last = float(starts.max())
    steady = float((np.minimum(ends, last) - starts)[starts < last].sum())
    return {"benchmark": "sweep_utilisation", "n_jobs": n_jobs, "schedule": name,
            "trials": trials, **({} if max_cost is None else {
                "max_cost": round(max_cost, 1), "max_trial_cost_fraction": fraction}), "utilisation_whole_span": round(busy / (n_jobs * span), 3),
            "utilisation_to_last_launch": round(steady / (n_jobs * (last - starts.min())), 3),
            "drain_s": round(float(ends.max()) - last, 2),
            "wall_s": round(wall, 2), "span_s": round(span, 2), "busy_s": round(busy, 1),
            "trials_per_worker_hour": round(trials / (n_jobs * span / 3600.0), 1),
            "_ends": ends - starts.min(), "_cost": df["cost"].to_numpy(),
            "_loss": df["output"].to_numpy()}


def blind_utilisation(seconds: np.ndarray, n_jobs: int, trials: int, draws: int = 2000,
                      seed: int = 0) -> float:
    """Mean utilisation over the whole span of a zero-overhead asynchronous scheduler that
    knows nothing of trial lengths: ``trials`` lengths drawn at random from ``seconds``, each
    started on the first free worker, averaged over ``draws`` sweeps. The drain this leaves is
    the part no scheduling removes without choosing shorter trials near the end."""
    rng = np.random.default_rng(seed)
    out = np.empty(draws)
    for k in range(draws):
        lengths = rng.choice(seconds, trials)
        free = np.zeros(n_jobs)
        for length in lengths:
            i = int(np.argmin(free))
            free[i] += length
        out[k] = lengths.sum() / (n_jobs * free.max())
    return float(out.mean())


def _key(arm: str) -> str:
    return arm.replace("+", "_")


def _fronts(arms: dict[str, dict], table_hv: float, ref: tuple[float, float]) -> dict:
    """Front quality of every arm at equal trial count and at the shortest arm's span."""
    t = min(arm["span_s"] for arm in arms.values())
    out = {}
    for name, arm in arms.items():
        done = arm["_ends"] <= t + 1e-9
        out[f"{_key(name)}_front_at_equal_trials"] = round(
            _hypervolume(arm["_cost"], arm["_loss"], ref) / table_hv, 3)
        out[f"{_key(name)}_front_at_equal_span"] = round(
            _hypervolume(arm["_cost"][done], arm["_loss"][done], ref) / table_hv, 3)
        out[f"{_key(name)}_trials_at_equal_span"] = int(done.sum())
    out["equal_span_s"] = round(t, 2)
    return out


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.sweep_utilisation",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="16 trials at 8 workers, trials 10x shorter (under 60 s)")
    ap.add_argument("--workers", type=int, nargs="+", help="worker counts (default 2 4 8)")
    ap.add_argument("--trials", type=int, help="trials per sweep (default 64)")
    ap.add_argument("--scale", type=float,
                    help="divide the recorded trial seconds by this (default 10)")
    ap.add_argument("--replay", choices=["flops", "nearest"], default="flops",
                    help="flops (default): cost = the trial's training FLOPs, sleep = the "
                         "recorded seconds-per-FLOPs law at them (with the nearest recorded "
                         "trial's timing noise); nearest: sleep and cost = the nearest recorded "
                         "trial's seconds (a length a sweep cannot predict)")
    ap.add_argument("--arms", nargs="+", choices=list(ARMS),
                    help="which arms to run (default all: batch, async with final_wave=none, "
                         "async with final_wave=shorten; with --quick the two async ones)")
    ap.add_argument("--cost-arm", type=float, metavar="FRACTION",
                    help="also, at the largest worker count, each async arm with a cost budget "
                         "(max_cost = the first async arm's summed cost) and "
                         "max_trial_cost_fraction=FRACTION: do capped late trials shorten the "
                         "drain?")
    args = ap.parse_args(argv)
    workers = args.workers or ([8] if args.quick else [2, 4, 8])
    trials = args.trials or (16 if args.quick else 64)
    scale = args.scale or (100.0 if args.quick else 10.0)
    args.arms = args.arms or (["async", "async+shorten"] if args.quick else list(ARMS))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ["TQDM_DISABLE"] = "1"
    # the joblib workers import this module by name
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO),
                                                             os.environ.get("PYTHONPATH")]))
    import torch

    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)
    _, _, _, _, loss, seconds, flops = _recorded(str(TABLE))
    cost = seconds / scale if args.replay == "nearest" else flops
    ref = (float(np.log10(cost.max())) + 0.1, float(loss.max()) + 0.1)
    table_hv = _hypervolume(cost, loss, ref)
    rows, summaries = [], []
    with tempfile.TemporaryDirectory(prefix="sweep_utilisation-") as tmp:
        work = Path(tmp)
        conf_dir = work / "conf"
        _write_app(conf_dir, scale, args.replay)
        # warm-up (imports, plugin discovery, the first GP fit, joblib's pool), for both arms;
        # its trials 10x shorter than the measured ones
        _run(conf_dir, work / "warmup", [f"hydra.sweeper.n_jobs={workers[0]}",
                                         f"hydra.sweeper.max_trials={workers[0] + 1}",
                                         f"scale={10 * scale:g}"])
        for n in workers:
            arms = {}
            for arm in args.arms:
                arms[arm] = r = measure(n, arm, trials, work, conf_dir)
                print(f"{n} workers, {arm:13s}: utilisation {r['utilisation_whole_span']:.2f}"
                      f" over the whole span, {r['utilisation_to_last_launch']:.2f} up to the "
                      f"last launch (then a drain of {r['drain_s']:.1f} s as the last trials "
                      f"end); span {r['span_s']:.1f} s, wall {r['wall_s']:.1f} s, "
                      f"{r['trials_per_worker_hour']:.0f} trials per worker-hour", flush=True)
            fronts = _fronts(arms, table_hv, ref)
            blind = blind_utilisation(seconds, n, trials)
            print(f"{n} workers: a zero-overhead scheduler blind to trial lengths, {trials} "
                  f"trials drawn from the recorded lengths: utilisation {blind:.2f} over the "
                  f"whole span (mean of 2000 draws)", flush=True)
            summary: dict[str, Any] = {"benchmark": "sweep_utilisation", "n_jobs": n,
                                       "trials": trials, "scale": scale,
                                       "replay": args.replay,
                                       "blind_scheduler_utilisation": round(blind, 3)}
            for figure in ("utilisation_whole_span", "utilisation_to_last_launch", "drain_s",
                           "span_s", "busy_s"):
                summary.update({f"{figure}_{_key(a)}": r[figure] for a, r in arms.items()})
            if "batch" in arms and "async" in arms:
                summary["span_ratio_batch_over_async"] = round(
                    arms["batch"]["span_s"] / arms["async"]["span_s"], 2)
            summaries.append({**summary, **fronts})
            print(f"{n} workers: front (hypervolume / the recorded table's) at {trials} trials: "
                  + ", ".join(f"{a} {fronts[f'{_key(a)}_front_at_equal_trials']:.3f}"
                              for a in arms)
                  + f"; after {fronts['equal_span_s']:.0f} s: "
                  + ", ".join(f"{a} {fronts[f'{_key(a)}_front_at_equal_span']:.3f} "
                              f"({fronts[f'{_key(a)}_trials_at_equal_span']} trials)"
                              for a in arms), flush=True)
            if args.cost_arm and n == max(workers):
                budget = next(float(r["_cost"].sum()) for a, r in arms.items()
                              if a != "batch")
                for arm in [a for a in args.arms if a != "batch"]:
                    arms[f"{arm}+cost"] = r = measure(n, arm, trials, work, conf_dir,
                                                      max_cost=budget, fraction=args.cost_arm)
                    print(f"{n} workers, {arm} with max_cost={r['max_cost']:g} and "
                          f"max_trial_cost_fraction={args.cost_arm:g}: {r['trials']} trials, "
                          f"busy {r['busy_s']:.0f} s, utilisation "
                          f"{r['utilisation_whole_span']:.2f} over the whole span, "
                          f"{r['utilisation_to_last_launch']:.2f} up to the last launch, drain "
                          f"{r['drain_s']:.1f} s", flush=True)
            rows += [{k: v for k, v in r.items() if not k.startswith("_")} for r in arms.values()]
    print(json.dumps(rows + summaries))


if __name__ == "__main__":
    main()
