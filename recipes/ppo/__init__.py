"""PPO on ProcGen (Cobbe et al. 2020) with an IMPALA-CNN, on the envpool engine.

``train(cfg) -> dict`` is the recipe's entry point (``python -m recipes.ppo`` for Hydra).
"""
from recipes.ppo.checkpoint import load_checkpoint, save_checkpoint
from recipes.ppo.config import EnvConfig, PPOConfig
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
from recipes.ppo.train import resolve_device, train

__all__ = [
    "PPO", "PROCGEN_GAMES", "RETURN_BOUNDS", "ActorCritic", "EnvConfig", "EvalResult",
    "ImpalaAgent", "ImpalaCNN", "MLPAgent", "NonFiniteLossError", "PPOConfig", "RewardNormalizer",
    "RunningMeanStd", "StepResult", "VecEnv", "compute_gae", "evaluate_policy",
    "explained_variance", "load_checkpoint", "make_procgen", "make_vec_env",
    "mean_normalized_score", "normalized_score", "ppo_update", "procgen_task_id",
    "resolve_device", "save_checkpoint", "train",
]
