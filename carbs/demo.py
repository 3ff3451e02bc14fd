"""A short CARBS run on a synthetic cost-aware problem (a toy language-model scaling law).

    python -m carbs.demo --out DIR [--trials N] [--batch B] [--seed S]

The synthetic loss follows Chinchilla's law L(N, D) = E + A / N^a + B / D^b with the paper's
constants (Hoffmann et al. 2022: E 1.69, A 406.4, B 410.7, a 0.34, b 0.28), N = 12 * width^2
parameters and D tokens, plus penalties for a learning rate away from its width-dependent
optimum, for warm-up away from 5%, and per activation. The cost is
6 N D / 1e12 (TFLOPs). Writes into DIR: pareto.png, params_vs_cost.png, convergence.png,
trials.csv and state.json.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time

import numpy as np
import torch
from tqdm import tqdm

from carbs.config import CARBSConfig
from carbs.optimizer import CARBS
from carbs.plots import plot_convergence, plot_params_vs_cost, plot_pareto_front
from carbs.spaces import CategoricalSpace, LogitSpace, LogSpace, Param

logger = logging.getLogger("carbs.demo")


def demo_params() -> list[Param]:
    """The demo's search space."""
    return [
        Param("lr", LogSpace(min=1e-5, max=1e-1, scale=0.5), search_center=1e-3),
        Param("width", LogSpace(min=32, max=4096, is_integer=True, rounding_factor=8),
              search_center=128),
        Param("tokens", LogSpace(min=1e6, max=1e10), search_center=3e7),
        Param("warmup", LogitSpace(min=0.0, max=0.5), search_center=0.1),
        Param("act", CategoricalSpace(choices=["gelu", "relu", "swiglu"]), search_center="gelu"),
    ]


def synthetic_run(config: dict, rng: np.random.Generator) -> tuple[float, float]:
    """(validation loss, cost in TFLOPs) of one synthetic training run."""
    n_params = 12.0 * config["width"] ** 2
    tokens = float(config["tokens"])
    loss = 1.69 + 406.4 / n_params ** 0.34 + 410.7 / tokens ** 0.28  # Chinchilla's fitted law
    lr_opt = -2.5 - 0.5 * math.log10(config["width"] / 256)
    loss += 0.1 * (math.log10(config["lr"]) - lr_opt) ** 2
    w = config["warmup"]
    loss += 0.01 * (math.log10(w / (1 - w)) - math.log10(0.05 / 0.95)) ** 2
    loss += {"gelu": 0.0, "relu": 0.03, "swiglu": -0.02}[config["act"]]
    loss += float(rng.normal(0, 0.003))
    return loss, 6.0 * n_params * tokens / 1e12


def run_demo(out: str, trials: int = 60, batch: int = 1, seed: int = 0) -> CARBS:
    """Run the demo and write its outputs into ``out``; returns the optimiser."""
    os.makedirs(out, exist_ok=True)
    opt = CARBS(CARBSConfig(better_direction_sign=-1, seed=seed), demo_params())
    rng = np.random.default_rng(seed + 1)
    t0 = time.perf_counter()
    with tqdm(total=trials, desc="CARBS demo", unit="trial") as bar:
        done = 0
        while done < trials:
            k = min(batch, trials - done)
            suggestions = opt.suggest(k) if k > 1 else [opt.suggest()]
            for s in suggestions:
                loss, cost = synthetic_run(s.config, rng)
                opt.observe(s, output=loss, cost=cost)
            done += k
            best = min(o.output for o in opt.observations if not o.is_failure)
            bar.set_postfix(best=f"{best:.4f}")
            bar.update(k)
    elapsed = time.perf_counter() - t0
    paths = [
        plot_pareto_front(opt, os.path.join(out, "pareto.png"), cost_label="TFLOPs",
                          output_label="validation loss"),
        plot_params_vs_cost(opt, os.path.join(out, "params_vs_cost.png"), cost_label="TFLOPs"),
        plot_convergence(opt, os.path.join(out, "convergence.png"), cost_label="TFLOPs"),
    ]
    csv = os.path.join(out, "trials.csv")
    opt.to_dataframe().to_csv(csv, index=False)
    state = os.path.join(out, "state.json")
    opt.save(state)
    logger.info("%d trials in %.1fs; wrote %s, %s and %s", trials, elapsed, ", ".join(paths), csv,
                state)
    return opt


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m carbs.demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder (created if missing)")
    ap.add_argument("--trials", type=int, default=60, help="number of trials (default 60)")
    ap.add_argument("--batch", type=int, default=1,
                    help="suggestions per round, as parallel workers would take (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = ap.parse_args(argv)
    if args.trials < 1 or args.batch < 1:
        ap.error("--trials and --batch must be >= 1")
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    opt = run_demo(args.out, args.trials, args.batch, args.seed)
    front = opt.pareto_front(observed=True)
    print(f"Pareto front ({len(front)} groups): cost [TFLOPs] -> loss")
    for g in front:
        print(f"  {g.cost:12.4g} -> {g.output:.4f}  (n={g.n_samples}, width={g.config['width']}, "
              f"tokens={g.config['tokens']:.3g}, lr={g.config['lr']:.3g})")


if __name__ == "__main__":
    main()
