"""Tune as you scale, checked by training: the sweep's recommendation at 10x its largest run
against two baselines at the same FLOPs.

From a CARBS sweep of the LM recipe (default: the shipped ``notebooks/data/lm_cpu_scaling.sqlite``,
made by ``conf/sweep/lm_cpu_scaling.yaml``), for each budget C = factor x the sweep's largest
run (``--factors``, default 10), three arms are trained on ``--seeds`` (default 0 1 2, the
recipe's ``train.seed``: init and data order):

* ``recommended``: ``scaling.recommend.recommend(sweep, C)``'s configuration (width, depth,
  learning rate, warm-up from the laws, N from the allocation it follows). ``recommend`` spends
  the budget as 6 N D = C; the recipe's FLOPs also count the output projection and attention,
  so ``train.tokens`` is set to C / (the recipe's FLOPs per token of that shape): every arm
  spends exactly C (the recommended tokens are kept in ``tokens_recommended``);
* ``best_more_tokens``: the front's best trial (lowest loss) with only its tokens scaled up
  until it spends C (what one does without scaling laws: train the best model longer);
* ``twenty_tpp``: a Chinchilla-style 20 tokens per parameter: the best trial's depth, the width
  (a multiple of 32) whose N gives 20 N tokens at cost C, the best trial's learning rate and
  warm-up.

N is the non-embedding parameter count (``--n-column``, the recipe's
``metric.params_non_embedding``): the laws, the allocation and tokens per parameter use it.

Each run is saved as ``OUT/runs/<factor>x/<arm>-seed<k>-<hash>.json`` as soon as it ends, and a
run already there (same overrides) is reused, so an interrupted benchmark resumes where it
stopped. ``OUT/extrapolation.csv`` holds one row per run in the trial contract's form
(``trial_id``, ``sweep``, ``status``, ``output``, ``cost``, ``param.*``, ``metric.*``; ``arm``,
``factor``, ``budget``, ``seed``; the prediction as ``metric.predicted_*``), and the last
stdout line is a JSON list: per budget, the predicted loss and interval, each arm's mean and sd,
and whether the recommendation beat both baselines.

    python -m benchmarks.extrapolation [--sweep JOURNAL] [--out DIR] [--factors 10 30]
                                       [--seeds 0 1 2] [--override KEY=VALUE] [--quick]
    python -m benchmarks.extrapolation --out DIR --collect   # the table of the runs so far

``OUT/plan.json`` (the arms and the prediction of every budget) is written before any training;
``--collect`` trains nothing and writes ``OUT/extrapolation.csv`` and the JSON line from the
finished runs it names, so a benchmark still under way (or stopped) can be tabulated.

``--quick``: a pipeline check in well under a minute: budget 1.05x the sweep's cheapest run
(inside the swept range), one seed, a 4k-token validation set, 50 bootstrap resamples.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tays import atomic_write_text, read_journal_meta

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SWEEP = ROOT / "notebooks" / "data" / "lm_cpu_scaling.sqlite"
ARMS = ("recommended", "best_more_tokens", "twenty_tpp")
COST = "metric.flops"
SHAPE = ("model.d_model", "model.n_layers")
TUNED = ("train.lr", "train.warmup_fraction")

log = logging.getLogger("benchmarks.extrapolation")


@dataclass
class Arm:
    """One configuration to train at one budget."""

    name: str
    factor: float
    budget: float
    params: dict[str, Any]
    """model.d_model, model.n_layers, train.tokens, train.lr, train.warmup_fraction."""
    extra: dict[str, Any] = field(default_factory=dict)
    """``metric.*`` columns of the result table that say where the arm came from."""

    def overrides(self) -> list[str]:
        return [f"{k}={v}" for k, v in sorted(self.params.items())]


# ----------------------------------------------------------------------------- the sweep
def journal_meta(path: Path) -> dict[str, Any]:
    """The sweep journal's ``meta`` table as ``{key: decoded JSON}`` (empty without one)."""
    file = path / "journal.sqlite" if path.is_dir() else path
    if file.suffix not in (".sqlite", ".sqlite3", ".db") or not file.is_file():
        return {}
    return read_journal_meta(file) or {}


def load_sweep(path: Path, n_column: str) -> pd.DataFrame:
    """The sweep's trial table with ``metric.params`` replaced by ``n_column`` (the N of the
    laws); errors name the file and what is missing."""
    from scaling import load_table

    table = load_table(path)
    missing = [c for c in ("output", COST, n_column, "metric.tokens", *(f"param.{p}" for p in
               (*SHAPE, "train.tokens", *TUNED))) if c not in table.columns]
    if missing:
        raise SystemExit(f"error: --sweep {path}: the table lacks {missing}; give an LM sweep "
                         "that tunes width, depth, tokens, learning rate and warm-up "
                         "(conf/sweep/lm_cpu_scaling.yaml)")
    table = table.copy()
    table["metric.params"] = table[n_column]
    return table


def best_front_trial(table: pd.DataFrame) -> pd.Series:
    """The front's lowest-loss point (group mean of resamples)."""
    from scaling import pareto_front

    front = pareto_front(table, COST, "output", "min")
    return front.loc[front["output"].idxmin()]


# ----------------------------------------------------------------------------- the recipe
def base_config(sweep_name: str, quick: bool, extra: list[str] = ()):
    """The sweep's fixed configuration (``python -m recipes.lm +sweep=<name> <extra>``), as a
    DictConfig."""
    from hydra import compose, initialize_config_dir

    import recipes.lm.config  # noqa: F401  (registers the schema)

    overrides = [f"+sweep={sweep_name}", "logger=none", *extra]
    if quick:
        overrides.append("data.val_tokens=4096")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="lm", overrides=overrides)


def shape_cost(cfg, d_model: int, n_layers: int) -> tuple[int, int, int]:
    """(FLOPs per token, non-embedding N, all N) of a shape under the recipe's accounting."""
    from recipes.lm.config import ModelConfig
    from recipes.lm.model import count_params, flops_per_token
    from recipes.lm.tokenizer import BYTES, ByteTokenizer

    m = dict(cfg.model)
    m.update(d_model=int(d_model), n_layers=int(n_layers))
    model = ModelConfig(**m)
    vocab = ByteTokenizer.vocab_size if cfg.data.tokenizer == BYTES else int(cfg.data.vocab_size)
    p = count_params(model, vocab)
    return flops_per_token(model, vocab), p["non_embedding"], p["total"]


def tokens_for(cfg, budget: float, fpt: int) -> int:
    """Whole batches of tokens that spend ``budget`` (nearest)."""
    batch = int(cfg.train.batch_tokens)
    return max(1, round(budget / fpt / batch)) * batch


# ----------------------------------------------------------------------------- the arms
def plan_arms(table: pd.DataFrame, space: dict | None, cfg, factor: float, budget: float,
              n_bootstrap: int, seed: int = 0) -> tuple[list[Arm], dict[str, Any]]:
    """The three arms at one budget, and the recommendation's prediction."""
    from scaling.recommend import recommend

    rec = recommend(table, [budget], space=space, cost_column=COST, output_column="output",
                    direction="min", n_bootstrap=n_bootstrap, seed=seed)
    item = rec.recommendations[0]
    lo, hi = item.predicted_interval
    prediction = {"predicted_output": item.predicted_output, "predicted_low": lo,
                  "predicted_high": hi, "follow": rec.follow,
                  "extrapolation_decades": item.extrapolation_decades,
                  "recommendation": item.to_dict()}
    arms = []

    d, L = int(item.params["model.d_model"]), int(item.params["model.n_layers"])
    fpt, _, _ = shape_cost(cfg, d, L)
    params = {"model.d_model": d, "model.n_layers": L, "train.tokens": tokens_for(cfg, budget, fpt),
              "train.lr": float(item.params["train.lr"]),
              "train.warmup_fraction": float(item.params["train.warmup_fraction"])}
    arms.append(Arm("recommended", factor, budget, params,
                    {"metric.tokens_recommended": float(item.params["train.tokens"])}))

    best = best_front_trial(table)
    bd, bL = int(best["param.model.d_model"]), int(best["param.model.n_layers"])
    fpt, _, _ = shape_cost(cfg, bd, bL)
    tuned = {p: float(best[f"param.{p}"]) for p in TUNED}
    arms.append(Arm("best_more_tokens", factor, budget,
                    {"model.d_model": bd, "model.n_layers": bL,
                     "train.tokens": tokens_for(cfg, budget, fpt), **tuned},
                    {"metric.best_trial_flops": float(best[COST]),
                     "metric.best_trial_output": float(best["output"]),
                     "metric.tokens_recommended": float(best["param.train.tokens"])}))

    def miss(width: int) -> float:  # how far 20 N tokens of this width are from the budget
        f, n_w, _ = shape_cost(cfg, width, bL)
        return abs(math.log(f * 20 * n_w / budget))

    width = min(range(32, 4097, 32), key=miss)
    fpt, _, _ = shape_cost(cfg, width, bL)
    arms.append(Arm("twenty_tpp", factor, budget,
                    {"model.d_model": width, "model.n_layers": bL,
                     "train.tokens": tokens_for(cfg, budget, fpt), **tuned}, {}))
    return arms, prediction


# ----------------------------------------------------------------------------- training
def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def run_key(arm: Arm, seed: int) -> str:
    text = json.dumps({"overrides": arm.overrides(), "seed": seed}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def run_path(arm: Arm, seed: int, out: Path) -> Path:
    """Where one arm's run on one seed is saved (the key hashes its overrides and seed)."""
    return out / "runs" / f"{arm.factor:g}x" / f"{arm.name}-seed{seed}-{run_key(arm, seed)}.json"


def saved_run(arm: Arm, seed: int, out: Path) -> dict[str, Any] | None:
    """The finished (``ok``) run of this arm and seed saved under ``out``, or None."""
    path = run_path(arm, seed, out)
    if not path.is_file():
        return None
    saved = json.loads(path.read_text())
    return saved if saved.get("status") == "ok" else None


def train_arm(cfg, arm: Arm, seed: int, out: Path) -> dict[str, Any]:
    """Train one arm on one seed, or reuse the saved run with the same overrides."""
    from omegaconf import OmegaConf

    path = run_path(arm, seed, out)
    saved = saved_run(arm, seed, out)
    if saved is not None:
        log.info("reusing %s", path)
        return saved
    from recipes.lm.training import train

    run_cfg = cfg.copy()
    OmegaConf.update(run_cfg, "train.seed", seed)
    for k, v in arm.params.items():
        OmegaConf.update(run_cfg, k, v)
    log.info("training %s %gx seed %d: %s", arm.name, arm.factor, seed, " ".join(arm.overrides()))
    started = _now()
    result = train(run_cfg)
    result = {k: v for k, v in result.items() if k in ("status", "output", "error", "cost")
              or k.startswith("metric.")}
    result.update(trial_id=f"{arm.name}-{arm.factor:g}x-seed{seed}", sweep="extrapolation",
                  arm=arm.name, factor=arm.factor, budget=arm.budget, seed=seed,
                  overrides=" ".join(arm.overrides()), started_at=started, finished_at=_now(),
                  **{f"param.{k}": v for k, v in arm.params.items()}, **arm.extra)
    atomic_write_text(path, json.dumps(result, indent=1, default=float) + "\n")
    return result


# ----------------------------------------------------------------------------- summary
def summarize(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Per budget: the prediction, each arm's mean / sd / n, and the comparisons."""
    out = []
    for factor, g in rows.groupby("factor", sort=True):
        ok = g[g["status"] == "ok"]
        arms = {}
        for arm in ARMS:
            v = ok.loc[ok["arm"] == arm, "output"].to_numpy(dtype=float)
            a = ok[ok["arm"] == arm]
            arms[arm] = {"mean": float(v.mean()) if len(v) else None,
                         "sd": float(v.std(ddof=1)) if len(v) > 1 else None, "n": len(v),
                         "params_non_embedding": float(a["metric.params_non_embedding"].iloc[0])
                         if len(a) else None,
                         "tokens": float(a["metric.tokens"].iloc[0]) if len(a) else None}
        rec = arms["recommended"]["mean"]
        lo, mid, hi = (float(g[f"metric.{c}"].iloc[0]) for c in (
            "predicted_low", "predicted_output", "predicted_high"))
        entry = {"factor": float(factor), "budget": float(g["budget"].iloc[0]),
                 "predicted": mid, "predicted_interval": [lo, hi], "arms": arms}
        if rec is not None:
            entry["recommended_inside_interval"] = bool(lo <= rec <= hi)
            entry["recommended_beats"] = {
                b: (None if arms[b]["mean"] is None else bool(rec < arms[b]["mean"]))
                for b in ARMS[1:]}
        out.append(entry)
    return out


def plan_to_arms(plan: dict[str, Any]) -> list[Arm]:
    """The arms of one entry of ``plan.json``."""
    return [Arm(name, float(plan["factor"]), float(plan["budget"]), dict(params))
            for name, params in plan["arms"].items()]


def with_prediction(result: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    """One run's row: its result and the prediction its budget came with."""
    return {**result, **{f"metric.{k}": plan[k] for k in (
        "predicted_output", "predicted_low", "predicted_high", "extrapolation_decades")}}


def collect(out: Path, seeds: list[int], arm_names: list[str]) -> list[dict[str, Any]]:
    """The rows of every finished run under ``out`` that ``out/plan.json`` names (no training):
    the table of a benchmark still under way, or one stopped early."""
    plan_file = out / "plan.json"
    if not plan_file.is_file():
        raise SystemExit(f"error: --collect: {plan_file} does not exist; run the benchmark (or "
                         "--plan-only) with this --out first")
    rows = []
    for plan in json.loads(plan_file.read_text()):
        for seed in seeds:
            for arm in (a for a in plan_to_arms(plan) if a.name in arm_names):
                saved = saved_run(arm, seed, out)
                if saved is not None:
                    rows.append(with_prediction(saved, plan))
    if not rows:
        raise SystemExit(f"error: --collect: no finished run under {out / 'runs'} matches "
                         f"{plan_file}")
    return rows


def finish(rows: list[dict[str, Any]], out: Path, n_column: str) -> int:
    """Write ``out/extrapolation.csv``, log and print the summary (the JSON line)."""
    df = pd.DataFrame(rows)
    df["metric.tokens_per_param"] = df["metric.tokens"] / df[n_column]
    first = ["trial_id", "sweep", "status", "output", "cost", "arm", "factor", "budget", "seed"]
    df = df[[c for c in first if c in df] + sorted(c for c in df if c not in first)]
    df.to_csv(out / "extrapolation.csv", index=False)
    summary = summarize(df)
    for s in summary:
        log.info("%gx: predicted %.4f [%.4f, %.4f]; %s", s["factor"], s["predicted"],
                 *s["predicted_interval"], "; ".join(
                     f"{a} {v['mean']:.4f} sd {v['sd'] if v['sd'] is None else round(v['sd'], 4)}"
                     f" (n {v['n']})" for a, v in s["arms"].items() if v["mean"] is not None))
    print(json.dumps(summary, default=float))
    return 0


def _bad_arguments(args: argparse.Namespace) -> str:
    """The first invalid command-line value, said with its flag and the fix ("" when none)."""
    for f in args.factors:
        if not (math.isfinite(f) and f > 0):
            return (f"--factors {f:g}: a factor multiplies the sweep's largest run's FLOPs; "
                    "give a finite number > 0 (e.g. 10)")
    for s in args.seeds:
        if s < 0:
            return f"--seeds {s}: seeds are training seeds, give integers >= 0"
    for o in args.override:
        if "=" not in o or not o.split("=", 1)[0].strip():
            return f"--override {o!r}: give a Hydra override KEY=VALUE, e.g. train.device=cpu"
    if args.bootstrap < 1:
        return f"--bootstrap {args.bootstrap}: give a number of resamples >= 1"
    return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.extrapolation",
        description="Train scaling recommend's configuration at 10x a sweep's largest run, and "
                    "two baselines at the same FLOPs, on several seeds.")
    ap.add_argument("--sweep", type=Path, default=DEFAULT_SWEEP,
                    help="the sweep's journal or directory (default: %(default)s)")
    ap.add_argument("--sweep-config", default=None,
                    help="conf/sweep/<name>.yaml the sweep ran (default: the journal's sweep name)")
    ap.add_argument("--out", type=Path, default=Path("runs/extrapolation"),
                    help="output folder; finished runs there are reused (default: %(default)s)")
    ap.add_argument("--factors", type=float, nargs="+", default=[10.0],
                    help="budgets as multiples of the sweep's largest run (default: 10)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    ap.add_argument("--n-column", default="metric.params_non_embedding",
                    help="the N of the laws (default: %(default)s; or metric.params)")
    ap.add_argument("--bootstrap", type=int, default=1000, help="recommend's resamples")
    ap.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                    help="a Hydra override of every run's fixed config (repeatable), e.g. "
                         "train.device=cpu; the arms' own parameters win")
    ap.add_argument("--plan-only", action="store_true", help="print the arms, train nothing")
    ap.add_argument("--collect", action="store_true",
                    help="train nothing: tabulate the finished runs under --out that its "
                         "plan.json names (the table of a run still under way)")
    ap.add_argument("--quick", action="store_true", help="a pipeline check in under a minute")
    args = ap.parse_args(argv)
    bad = _bad_arguments(args)
    if bad:
        ap.error(bad)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("composer", "recipes", "scaling", "torch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.quick:
        args.seeds, args.bootstrap = [0], 50
    if args.collect:
        return finish(collect(args.out, args.seeds, args.arms), args.out, args.n_column)
    if not (args.sweep.exists()):
        raise SystemExit(f"error: --sweep {args.sweep} does not exist; give a sweep journal "
                         "(e.g. notebooks/data/lm_cpu_scaling.sqlite) or sweep directory")
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    meta = journal_meta(args.sweep)
    sweep_name = args.sweep_config or meta.get("sweep") or "lm_cpu_scaling"
    table = load_sweep(args.sweep, args.n_column)
    cfg = base_config(sweep_name, args.quick, args.override)
    costs = pd.to_numeric(table.loc[table["status"] == "ok", COST], errors="coerce")
    largest = float(costs.max())
    if args.quick:  # just above the cheapest run: inside the swept range, seconds of training
        args.factors = [float(f"{1.05 * costs.min() / largest:.3g}")]
    args.out.mkdir(parents=True, exist_ok=True)
    plans = []
    for factor in args.factors:
        budget = factor * largest
        arms, prediction = plan_arms(table, meta.get("space"), cfg, factor, budget,
                                     args.bootstrap)
        plans.append({"factor": factor, "budget": budget,
                      "arms": {a.name: a.params for a in arms}, **prediction})
        log.info("%gx = %.3g FLOPs: predicted %.4f [%.4f, %.4f]", factor, budget,
                 prediction["predicted_output"], prediction["predicted_low"],
                 prediction["predicted_high"])
    # written before any training, so that --collect can tabulate a run still under way
    (args.out / "plan.json").write_text(json.dumps(plans, indent=1, default=float) + "\n")
    if args.plan_only:
        print(json.dumps(plans, default=float))
        return 0
    rows = []
    for plan in plans:
        arms = plan_to_arms(plan)
        for seed in args.seeds:  # seeds outermost: a partial run has every arm on seed 0
            for arm in (a for a in arms if a.name in args.arms):
                rows.append(with_prediction(train_arm(cfg, arm, seed, args.out), plan))
    return finish(rows, args.out, args.n_column)


if __name__ == "__main__":
    raise SystemExit(main())
