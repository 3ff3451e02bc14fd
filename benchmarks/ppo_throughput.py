"""Env steps per second of full PPO training (collect + update) vs the engine's raw stepping.

Baseline, measured in the same process: envpool stepping CoinRun easy with random actions, no
policy. CPU section (always): the recipe's PPO iteration (IMPALA-CNN policy inference on every
step, GAE, ``update_epochs`` x ``num_minibatches`` gradient steps) with 64 environments; the
ratio ``ppo_sps / raw_sps`` says how much of the engine's speed training keeps. GPU section (only
when CUDA is available): the paper's default config for ~1M steps on one game.

    python -m benchmarks.ppo_throughput            # full: 64 envs x 256 steps x 2 updates
    python -m benchmarks.ppo_throughput --quick    # 64 envs x 8 steps x 1 update (< 60 s)

The last stdout line is a JSON list: one object for the CPU section, one for the GPU section.
"""
from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np
import torch

from recipes.ppo import PPO, ImpalaAgent, PPOConfig, make_procgen

logger = logging.getLogger("ppo_throughput")


def raw_sps(game: str, num_envs: int, steps: int, threads: int) -> float:
    """Random-action env steps per second of the bare engine."""
    envs = make_procgen(game, "easy", num_envs, num_levels=200, start_level=0, seed=0,
                        num_threads=threads)
    try:
        envs.reset()
        rng = np.random.default_rng(0)
        actions = rng.integers(0, envs.num_actions, size=(steps, num_envs))
        start = time.perf_counter()
        for t in range(steps):
            envs.step(actions[t])
        return steps * num_envs / (time.perf_counter() - start)
    finally:
        envs.close()


def ppo_sps(game: str, cfg: PPOConfig, updates: int, device: torch.device,
            threads: int) -> dict[str, float]:
    """Steps per second of ``updates`` PPO iterations, and the split rollout / update time."""
    torch.manual_seed(cfg.seed)
    envs = make_procgen(game, cfg.env.distribution_mode, cfg.num_envs, cfg.env.num_levels,
                        cfg.env.start_level, seed=cfg.seed, num_threads=threads)
    try:
        learner = PPO(ImpalaAgent(envs.obs_shape, envs.num_actions, cfg.width_multiplier), envs,
                      cfg, device)
        rollout_s = 0.0
        start = time.perf_counter()
        for i in range(updates):
            t0 = time.perf_counter()
            learner.collect_rollout()
            if device.type == "cuda":
                torch.cuda.synchronize()
            rollout_s += time.perf_counter() - t0
            learner.learn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            logger.info("update %d/%d done", i + 1, updates)
        total_s = time.perf_counter() - start
    finally:
        envs.close()
    steps = updates * cfg.batch_size
    return {"ppo_sps": steps / total_s, "rollout_sps": steps / rollout_s,
            "update_seconds": (total_s - rollout_s) / updates, "env_steps": steps}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ppo_throughput",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="same comparison, small (< 60 s)")
    parser.add_argument("--game", default="coinrun")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (envpool: one per core)")
    parser.add_argument("--updates", type=int, default=None, help="PPO iterations (CPU)")
    parser.add_argument("--gpu-steps", type=int, default=None, help="env steps (GPU section)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)

    num_envs = 64
    num_steps = 8 if args.quick else 256
    updates = args.updates or (1 if args.quick else 2)
    cfg = PPOConfig(env={"games": [args.game]}, num_envs=num_envs, num_steps=num_steps,
                    total_timesteps=num_envs * num_steps * updates, progress=False)

    raw = raw_sps(args.game, num_envs, 200 if args.quick else 2000, 0)
    print(f"raw engine: {raw:,.0f} steps/s ({args.game} easy, {num_envs} envs, random actions)")
    cpu = ppo_sps(args.game, cfg, updates, torch.device("cpu"), 0)
    ratio = cpu["ppo_sps"] / raw
    print(f"PPO on CPU: {cpu['ppo_sps']:,.0f} steps/s (rollout alone {cpu['rollout_sps']:,.0f}, "
          f"{cpu['update_seconds']:.1f} s per update) = {ratio:.4f} x raw")
    results = [{
        "benchmark": "ppo_throughput", "section": "cpu", "game": args.game, "num_envs": num_envs,
        "num_steps": num_steps, "updates": updates, "update_epochs": cfg.update_epochs,
        "num_minibatches": cfg.num_minibatches, "threads": args.threads, "raw_sps": raw,
        **cpu, "ppo_to_raw": ratio,
    }]

    if torch.cuda.is_available():
        gpu_steps = args.gpu_steps or (65_536 if args.quick else 1_048_576)
        gcfg = PPOConfig(env={"games": [args.game]}, total_timesteps=gpu_steps, progress=False)
        gpu_updates = gcfg.num_updates
        raw_gpu_host = raw_sps(args.game, gcfg.num_envs, 2000, 0)
        gpu = ppo_sps(args.game, gcfg, gpu_updates, torch.device("cuda"), 0)
        print(f"PPO on GPU: {gpu['ppo_sps']:,.0f} steps/s = {gpu['ppo_sps'] / raw_gpu_host:.3f} x raw")
        results.append({"benchmark": "ppo_throughput", "section": "gpu", "game": args.game,
                        "num_envs": gcfg.num_envs, "num_steps": gcfg.num_steps,
                        "updates": gpu_updates, "device": torch.cuda.get_device_name(0),
                        "raw_sps": raw_gpu_host, **gpu,
                        "ppo_to_raw": gpu["ppo_sps"] / raw_gpu_host})
    else:
        print("GPU section skipped: CUDA is not available")
        results.append({"benchmark": "ppo_throughput", "section": "gpu", "measured": False,
                        "reason": "CUDA not available"})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
