"""PPO on ProcGen (Cobbe et al. 2020) with an IMPALA-CNN, on the envpool engine.

``train(cfg) -> dict`` is the recipe's entry point (``python -m recipes.ppo`` for Hydra).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from recipes.ppo.config import EnvConfig, PPOConfig  # registers the "base_ppo" schema

# Everything else loads on first use (PEP 562): torch and envpool stay out of `--help` and of
# configuration errors, which then answer in about a second.
_EXPORTS = {
    "resolve_device": "recipes.common.device",
    "load_checkpoint": "recipes.ppo.checkpoint", "save_checkpoint": "recipes.ppo.checkpoint",
    "PROCGEN_GAMES": "recipes.ppo.envs", "StepResult": "recipes.ppo.envs",
    "VecEnv": "recipes.ppo.envs", "make_procgen": "recipes.ppo.envs",
    "make_vec_env": "recipes.ppo.envs", "procgen_task_id": "recipes.ppo.envs",
    "EvalResult": "recipes.ppo.evaluate", "evaluate_policy": "recipes.ppo.evaluate",
    "ActorCritic": "recipes.ppo.policy", "ImpalaAgent": "recipes.ppo.policy",
    "ImpalaCNN": "recipes.ppo.policy", "MLPAgent": "recipes.ppo.policy",
    "PPO": "recipes.ppo.ppo", "NonFiniteLossError": "recipes.ppo.ppo",
    "RewardNormalizer": "recipes.ppo.ppo", "RunningMeanStd": "recipes.ppo.ppo",
    "compute_gae": "recipes.ppo.ppo", "explained_variance": "recipes.ppo.ppo",
    "ppo_update": "recipes.ppo.ppo",
    "RETURN_BOUNDS": "recipes.ppo.score", "mean_normalized_score": "recipes.ppo.score",
    "normalized_score": "recipes.ppo.score",
    "train": "recipes.ppo.train",
}

__all__ = [
    "PPO", "PROCGEN_GAMES", "RETURN_BOUNDS", "ActorCritic", "EnvConfig", "EvalResult",
    "ImpalaAgent", "ImpalaCNN", "MLPAgent", "NonFiniteLossError", "PPOConfig", "RewardNormalizer",
    "RunningMeanStd", "StepResult", "VecEnv", "compute_gae", "evaluate_policy",
    "explained_variance", "load_checkpoint", "make_procgen", "make_vec_env",
    "mean_normalized_score", "normalized_score", "ppo_update", "procgen_task_id",
    "resolve_device", "save_checkpoint", "train",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'recipes.ppo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # static analysers and IDEs see the real names
    from recipes.common.device import resolve_device
    from recipes.ppo.checkpoint import load_checkpoint, save_checkpoint
    from recipes.ppo.envs import (
        PROCGEN_GAMES,
        StepResult,
        VecEnv,
        make_procgen,
        make_vec_env,
        procgen_task_id,
    )
    from recipes.ppo.evaluate import EvalResult, evaluate_policy
    from recipes.ppo.policy import ActorCritic, ImpalaAgent, ImpalaCNN, MLPAgent
    from recipes.ppo.ppo import (
        PPO,
        NonFiniteLossError,
        RewardNormalizer,
        RunningMeanStd,
        compute_gae,
        explained_variance,
        ppo_update,
    )
    from recipes.ppo.score import RETURN_BOUNDS, mean_normalized_score, normalized_score
    from recipes.ppo.train import train
