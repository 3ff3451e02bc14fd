"""``train(cfg) -> dict``: train one PPO agent per game, evaluate it, report the result dict.

The result follows the recipe contract (docs/architecture.md): ``output`` is the mean
normalized score (on test levels by default; the sweep maximises it), ``cost`` is the training
env steps of all games (or wall seconds, ``cost_metric``), plus ``metric.*`` entries. ``train``
never raises: a bad config, a diverging run (NaN loss), CUDA out of memory, a damaged checkpoint
or any other error returns a failure result (:func:`recipes.common.run_trial`) with the steps
spent until then.
"""
from __future__ import annotations

import logging
import math
import time
import traceback
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from recipes.common import describe_error, failure_result, resolve_device, run_trial
from recipes.ppo.checkpoint import (
    check_resumable,
    checkpoint_files,
    load_checkpoint,
    save_checkpoint,
)
from recipes.ppo.config import PPOConfig
from recipes.ppo.envs import make_procgen
from recipes.ppo.evaluate import evaluate_policy
from recipes.ppo.policy import ImpalaAgent
from recipes.ppo.ppo import PPO
from recipes.ppo.score import mean_normalized_score

__all__ = ["train"]

logger = logging.getLogger(__name__)

_DIAGNOSTICS = ("approx_kl", "clip_fraction", "explained_variance", "entropy", "policy_loss",
                "value_loss")


class _Progress:
    """Env steps trained in this process, and the time spent training them."""

    def __init__(self) -> None:
        self.steps = 0  # trained in this process (for steps/s)
        self.env_steps = 0  # trained in total, including resumed checkpoints
        self.train_seconds = 0.0
        self.prior_seconds = 0.0  # wall time of earlier, resumed runs (from checkpoints)
        self.eval_steps = 0


def _resume(cfg: PPOConfig, game: str, learner: PPO, bar: tqdm,
            progress: _Progress) -> tuple[dict[str, float], float]:
    """Load ``game``'s checkpoint into ``learner`` when resuming. Returns the diagnostics and
    the wall seconds it saved (``{}`` and 0 when there is nothing to resume)."""
    loaded = load_checkpoint(cfg.checkpoint_dir, game) if cfg.checkpoint_dir and cfg.resume else None
    if loaded is None:
        return {}, 0.0
    state, meta = loaded
    check_resumable(meta["config"], cfg)
    try:
        learner.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        state_path = checkpoint_files(cfg.checkpoint_dir, game)[0]
        raise ValueError(f"{state_path}: the checkpoint does not fit this agent "
                         f"({str(err).splitlines()[0]}); delete {state_path.parent} "
                         "or set resume=false to start this game over") from err
    stats = dict(meta.get("stats", {}))
    prior_seconds = float(meta.get("wall_seconds", 0.0))
    learner.global_step = min(learner.global_step, cfg.num_updates * cfg.batch_size)
    bar.update(learner.global_step)
    progress.env_steps += learner.global_step
    logger.info("%s: resumed from step %d", game, learner.global_step)
    return stats, prior_seconds


def _save(cfg: PPOConfig, game: str, learner: PPO, stats: dict[str, float],
          wall_seconds: float) -> None:
    meta = {"game": game, "global_step": learner.global_step, "update": learner.update,
            "wall_seconds": wall_seconds, "stats": stats, "config": cfg.to_dict()}
    save_checkpoint(cfg.checkpoint_dir, game, learner.state_dict(), meta)


def _run_updates(cfg: PPOConfig, game: str, learner: PPO, bar: tqdm, progress: _Progress,
                 stats: dict[str, float], prior_seconds: float) -> dict[str, float]:
    """PPO updates until ``cfg.num_updates``, with a checkpoint every ``checkpoint_every`` and
    after the last; returns the diagnostics of the last update (``stats`` if none ran)."""
    game_seconds = 0.0
    while learner.update < cfg.num_updates:
        start = time.perf_counter()
        steps_before = learner.global_step
        try:
            stats = learner.iterate()
        except FloatingPointError:  # count the steps collected before the divergence
            progress.env_steps += learner.global_step - steps_before
            raise
        elapsed = time.perf_counter() - start
        game_seconds += elapsed
        progress.train_seconds += elapsed
        progress.steps += cfg.batch_size
        progress.env_steps += cfg.batch_size
        bar.update(cfg.batch_size)
        bar.set_postfix(game=game, kl=f"{stats['approx_kl']:.4f}",
                        ev=f"{stats['explained_variance']:.2f}", refresh=False)
        if cfg.checkpoint_dir and (learner.update % cfg.checkpoint_every == 0
                                   or learner.update == cfg.num_updates):
            _save(cfg, game, learner, stats, prior_seconds + game_seconds)
    return stats


def _evaluate(cfg: PPOConfig, game: str, agent: ImpalaAgent, device: torch.device,
              progress: _Progress) -> dict[str, float]:
    """``return_train`` and ``return_test``: mean returns on the training and the test levels."""
    out = {}
    for split, levels, start_level, seed in (
        ("train", cfg.env.num_levels, cfg.env.start_level, cfg.seed + 10_000),
        ("test", cfg.env.test_num_levels, cfg.env.test_start_level, cfg.seed + 20_000),
    ):
        eval_envs = make_procgen(game, cfg.env.distribution_mode, cfg.eval_num_envs, levels,
                                 start_level, seed=seed, num_threads=cfg.env_threads)
        try:
            result = evaluate_policy(agent, eval_envs, cfg.eval_episodes, device,
                                     max_steps=cfg.eval_max_steps)
        finally:
            eval_envs.close()
        progress.eval_steps += result.env_steps
        out[f"return_{split}"] = result.mean_return
        logger.info("%s: mean return on %s levels %.3f over %d episodes", game, split,
                    result.mean_return, result.episodes)
    return out


def _train_game(cfg: PPOConfig, game: str, device: torch.device, bar: tqdm,
                progress: _Progress) -> dict[str, float]:
    """Train and evaluate one agent on ``game``; returns its returns and diagnostics."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    envs = make_procgen(game, cfg.env.distribution_mode, cfg.num_envs, cfg.env.num_levels,
                        cfg.env.start_level, seed=cfg.seed, num_threads=cfg.env_threads)
    try:
        agent = ImpalaAgent(envs.obs_shape, envs.num_actions, cfg.width_multiplier)
        learner = PPO(agent, envs, cfg, device)
        stats: dict[str, float] = {k: math.nan for k in _DIAGNOSTICS}
        saved_stats, prior_seconds = _resume(cfg, game, learner, bar, progress)
        stats.update(saved_stats)
        stats = _run_updates(cfg, game, learner, bar, progress, stats, prior_seconds)
        progress.prior_seconds += prior_seconds
        rollout_returns = learner.episode_returns[-100:]
    finally:
        envs.close()

    out = dict(stats)
    out["env_steps"] = float(learner.update * cfg.batch_size)
    out["return_rollout"] = float(np.mean(rollout_returns)) if rollout_returns else math.nan
    out.update(_evaluate(cfg, game, learner.agent, device, progress))
    return out


def _as_config(cfg: PPOConfig | Mapping[str, Any] | Any) -> PPOConfig:
    if isinstance(cfg, PPOConfig):
        return cfg
    return PPOConfig.from_dict(cfg)


def _warn_rounding(cfg: PPOConfig) -> None:
    """Training runs whole rollouts: say so when ``total_timesteps`` is rounded up."""
    trained = cfg.num_updates * cfg.batch_size
    if trained != cfg.total_timesteps:
        logger.warning("total_timesteps=%d is not a multiple of the batch num_envs * num_steps = "
                       "%d: training %d env steps per game (%d update%s) instead; set "
                       "total_timesteps=%d to make this explicit", cfg.total_timesteps,
                       cfg.batch_size, trained, cfg.num_updates,
                       "" if cfg.num_updates == 1 else "s", trained)


def _train(cfg: PPOConfig | Mapping[str, Any] | Any) -> dict[str, Any]:
    """The body of :func:`train` (which wraps it with :func:`recipes.common.run_trial`)."""
    cfg = _as_config(cfg)
    _warn_rounding(cfg)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    device = resolve_device(cfg.device)
    started = time.perf_counter()
    progress = _Progress()
    per_game: dict[str, dict[str, float]] = {}
    total = cfg.num_updates * cfg.batch_size * len(cfg.env.games)
    bar = tqdm(total=total, disable=not cfg.progress, unit="step", desc="ppo", dynamic_ncols=True)

    def base_metrics() -> dict[str, float]:
        wall = time.perf_counter() - started + progress.prior_seconds
        return {"metric.env_steps": float(progress.env_steps), "metric.wall_seconds": wall,
                "metric.sps": progress.steps / progress.train_seconds
                if progress.train_seconds else math.nan,
                "metric.eval_env_steps": float(progress.eval_steps)}

    def failed(error: str) -> dict[str, Any]:
        bar.close()
        metrics = base_metrics()
        spent = metrics["metric.env_steps"] if cfg.cost_metric == "env_steps" else metrics[
            "metric.wall_seconds"]
        return failure_result(error, cost=spent, **metrics)

    try:
        for game in cfg.env.games:
            per_game[game] = _train_game(cfg, game, device, bar, progress)
    except (FloatingPointError, torch.cuda.OutOfMemoryError) as err:  # NaN/inf, CUDA OOM
        logger.error("run failed: %s", err)
        return failed(f"{type(err).__name__}: {err}")
    except Exception as err:  # noqa: BLE001  (a failed trial with its spent steps, not a crash)
        logger.error("run failed:\n%s", traceback.format_exc())
        return failed(describe_error(err))
    bar.close()

    mode = cfg.env.distribution_mode
    metrics = base_metrics()
    result: dict[str, Any] = {}
    scores = {split: mean_normalized_score(
        {g: per_game[g][f"return_{split}"] for g in cfg.env.games}, mode)
        for split in ("train", "test")}
    result["output"] = scores[cfg.objective]
    result["cost"] = (metrics["metric.env_steps"] if cfg.cost_metric == "env_steps"
                      else metrics["metric.wall_seconds"])
    result.update(metrics)
    result["metric.score_train"] = scores["train"]
    result["metric.score_test"] = scores["test"]
    for key in _DIAGNOSTICS:
        result[f"metric.{key}"] = float(np.mean([per_game[g][key] for g in cfg.env.games]))
    for game in cfg.env.games:
        for split in ("train", "test", "rollout"):
            result[f"metric.return_{split}.{game}"] = per_game[game][f"return_{split}"]
    logger.info("ppo result: output=%.4f cost=%.4g", result["output"], result["cost"])
    return result  # run_trial: no finished evaluation episode (NaN) -> a failed trial


def train(cfg: PPOConfig | Mapping[str, Any] | Any) -> dict[str, Any]:
    """Train PPO on every game of ``cfg.env.games`` and return the recipe's result dict.

    Never raises (a trial): a bad config (the error names the field), a damaged checkpoint
    (the error names the file), a diverging loss, CUDA out of memory or any other error gives a
    failed result with the cost spent until then.

    Args:
        cfg: a :class:`PPOConfig`, a plain dict or a Hydra ``DictConfig`` with its fields.

    Returns:
        ``{"output": mean normalized score, "cost": ..., "status": "ok",
        "metric.env_steps": ..., "metric.wall_seconds": ..., "metric.sps": ...,
        "metric.return_train.<game>": ..., "metric.return_test.<game>": ...,
        "metric.approx_kl": ..., ...}``; on failure ``output`` NaN, ``status`` ``failed`` and
        ``error``. ``total_timesteps`` is rounded up to whole rollouts (with a warning).
    """
    return run_trial(_train, cfg)
