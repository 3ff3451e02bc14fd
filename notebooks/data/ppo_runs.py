"""Run the PPO recipe for several seeds and append the results to a trial table (CSV).

Used for the ``procgen`` notebook's comparison at one budget: the baseline config (the PPO
defaults, with the CPU-sized rollout of ``conf/sweep/ppo_tiny.yaml``) against the best
configuration of a CARBS sweep, each re-run on fresh seeds:

    python notebooks/data/ppo_runs.py --label baseline --seeds 2 3 4 --jobs 2 \\
        --out notebooks/data/ppo_seeds.csv -- env=coinrun total_timesteps=8192 num_envs=16 \\
        num_steps=64 num_minibatches=4 eval_episodes=8 eval_num_envs=8 progress=false
    python notebooks/data/ppo_runs.py --label carbs --best-of notebooks/data/ppo_tiny.sqlite \\
        --seeds 2 3 4 --jobs 2 --out notebooks/data/ppo_seeds.csv -- env=coinrun ...

``--best-of SWEEP`` adds the hyperparameters of the sweep's best trial (highest output) as
overrides, after the command line's. Every row follows the trial contract (``trial_id``,
``sweep`` = the label, ``status``, ``output``, ``cost``, ``param.*``: the sweep's search-space
fields and ``seed``, ``metric.*``) plus ``game`` and ``overrides``. Threads are pinned to one per
run (``--jobs`` runs in parallel).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
#: Fields recorded as ``param.*`` (the ppo_tiny search space, and the seed).
PARAMS = ("total_timesteps", "learning_rate", "ent_coef", "gamma", "update_epochs", "seed")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def best_overrides(sweep: str | Path) -> list[str]:
    """``name=value`` overrides of the best ``ok`` trial (highest output) of a sweep journal."""
    import carbs

    trials = carbs.load_trials(sweep)
    ok = trials[trials["status"] == "ok"]
    if ok.empty:
        raise SystemExit(f"error: {sweep} has no successful trial")
    best = ok.loc[ok["output"].idxmax()]
    out = []
    for col in (c for c in ok.columns if c.startswith("param.")):
        value = best[col]
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # integer fields (total_timesteps, update_epochs)
        out.append(f"{col[len('param.'):]}={value}")
    return out


def run_one(label: str, seed: int, overrides: list[str]) -> dict:
    """One training run (in a worker process); returns its trial row."""
    os.environ.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    import torch
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import recipes.ppo  # noqa: F401  (registers the config schema)
    from recipes.ppo import train

    torch.set_num_threads(1)
    args = [*overrides, f"seed={seed}"]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="ppo", overrides=args)
    started = _now()
    result = train(cfg)
    plain = OmegaConf.to_container(cfg, resolve=True)
    row = {"trial_id": f"{label}-seed{seed}", "sweep": label,
           "status": result.get("status", "ok"), "output": result.get("output"),
           "cost": result.get("cost")}
    row.update({f"param.{p}": plain[p] for p in PARAMS})
    row.update({k: v for k, v in result.items() if k.startswith("metric.")})
    row.update({"error": result.get("error"), "started_at": started, "finished_at": _now(),
                "game": "+".join(plain["env"]["games"]), "overrides": " ".join(args)})
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--label", required=True, help="the rows' sweep column (baseline, carbs)")
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--out", type=Path, required=True, help="CSV to append to")
    ap.add_argument("--best-of", type=Path, help="sweep journal whose best trial's params to use")
    ap.add_argument("--jobs", type=int, default=1, help="runs in parallel")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides of conf/ppo.yaml")
    args = ap.parse_args(argv)
    overrides = list(args.overrides)
    if args.best_of:
        best = best_overrides(args.best_of)
        keys = {o.split("=", 1)[0] for o in best}
        overrides = [o for o in overrides if o.split("=", 1)[0] not in keys] + best
    print("overrides:", " ".join(overrides), flush=True)
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        rows = list(pool.map(run_one, [args.label] * len(args.seeds), args.seeds,
                             [overrides] * len(args.seeds)))
    import pandas as pd

    new = pd.DataFrame(rows)
    if args.out.exists():
        old = pd.read_csv(args.out)
        new = pd.concat([old[~old["trial_id"].isin(new["trial_id"])], new], ignore_index=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    new.to_csv(args.out, index=False)
    for r in rows:
        print(json.dumps({k: r[k] for k in ("trial_id", "status", "output", "cost")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
