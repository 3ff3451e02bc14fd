"""Mean episodic return of a policy on a set of levels (the paper samples from the policy)."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from recipes.ppo.envs import VecEnv
from recipes.ppo.policy import ActorCritic

__all__ = ["EvalResult", "evaluate_policy"]

logger = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """Mean raw return over ``episodes`` finished episodes, using ``env_steps`` steps."""

    mean_return: float
    episodes: int
    env_steps: int


def evaluate_policy(agent: ActorCritic, envs: VecEnv, episodes: int, device: torch.device,
                    max_steps: int = 20_000, greedy: bool = False) -> EvalResult:
    """Run ``envs`` until each environment has finished ``ceil(episodes / num_envs)`` episodes.

    Only the first episodes of each environment count, so short episodes are not over-sampled.
    Stops after ``max_steps`` steps per environment; ``mean_return`` is NaN if no episode ended.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    per_env = -(-episodes // envs.num_envs)
    returns: list[list[float]] = [[] for _ in range(envs.num_envs)]
    ep_return = np.zeros(envs.num_envs)
    obs = torch.as_tensor(envs.reset(), device=device)
    steps = 0
    was_training = agent.training
    agent.eval()
    try:
        for _ in range(max_steps):
            with torch.no_grad():
                action = (agent.greedy_action(obs) if greedy
                          else agent.get_action_and_value(obs)[0])
            result = envs.step(action.cpu().numpy())
            steps += envs.num_envs
            ep_return += result.reward
            for i in np.flatnonzero(result.done):
                if len(returns[i]) < per_env:
                    returns[i].append(float(ep_return[i]))
                ep_return[i] = 0.0
            obs = torch.as_tensor(result.obs, device=device)
            if all(len(r) >= per_env for r in returns):
                break
        else:
            logger.warning("evaluation hit max_steps=%d before every env finished %d episodes",
                           max_steps, per_env)
    finally:
        agent.train(was_training)
    flat = [r for env_returns in returns for r in env_returns]
    mean = float(np.mean(flat)) if flat else math.nan
    return EvalResult(mean_return=mean, episodes=len(flat), env_steps=steps)
