"""The one wrapper around the environment engine (envpool 1.2.5).

Why envpool: it is maintained, speaks the gymnasium API, ships all 16 ProcGen games in easy and
hard mode, installs from one wheel beside numpy 2 / torch 2.7 (the original engine, repackaged as
``procgen2``, needs numpy<2 and gym3 and cannot share an environment with it), and steps CoinRun
easy at ~30k steps/s with 64 envs on 2 cores (see ``benchmarks/ppo_throughput.py``).

The rest of the recipe only sees :class:`VecEnv`: a batch of environments with *same-step*
auto-reset (the observation returned for a finished environment is the first one of its next
episode, as in gymnasium's vector envs and the ProcGen paper's code). envpool itself resets on the
step *after* an episode ends; :meth:`VecEnv.step` hides that by resetting the finished ids at once,
so every transition PPO stores is a real one. Episode returns are tallied on the raw rewards.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PROCGEN_GAMES", "StepResult", "VecEnv", "make_procgen", "make_vec_env", "procgen_task_id"]

logger = logging.getLogger(__name__)

#: The 16 ProcGen games (lower-case names, as in the paper and ``procgen``).
PROCGEN_GAMES: tuple[str, ...] = (
    "bigfish", "bossfight", "caveflyer", "chaser", "climber", "coinrun", "dodgeball", "fruitbot",
    "heist", "jumper", "leaper", "maze", "miner", "ninja", "plunder", "starpilot",
)
DISTRIBUTION_MODES: tuple[str, ...] = ("easy", "hard")


def procgen_task_id(game: str, distribution_mode: str = "easy") -> str:
    """envpool's task id for a ProcGen game, e.g. ``("coinrun", "easy") -> "CoinrunEasy-v0"``."""
    if game not in PROCGEN_GAMES:
        raise ValueError(
            f"env.games: unknown ProcGen game {game!r}; choose from {', '.join(PROCGEN_GAMES)}"
        )
    if distribution_mode not in DISTRIBUTION_MODES:
        raise ValueError(
            f"env.distribution_mode: {distribution_mode!r} is not supported; use 'easy' or 'hard'"
        )
    return f"{game.capitalize()}{distribution_mode.capitalize()}-v0"


@dataclass
class StepResult:
    """What :meth:`VecEnv.step` returns.

    Attributes:
        obs: next observations (for finished envs: the first observation of the next episode).
        reward: raw rewards of this step, float32, shape (num_envs,).
        done: episode ended this step (terminated or truncated), bool, shape (num_envs,).
        episode_returns: raw returns of the episodes that ended this step.
    """

    obs: np.ndarray
    reward: np.ndarray
    done: np.ndarray
    episode_returns: list[float] = field(default_factory=list)


class VecEnv:
    """A batch of ``num_envs`` envpool environments with same-step auto-reset.

    Args:
        task_id: an envpool task id (``"CoinrunEasy-v0"``, ``"CartPole-v1"``, ...).
        num_envs: number of environments stepped together.
        seed: engine seed (each environment derives its own from it).
        num_threads: engine worker threads (0: envpool's default, one per core).
        **kwargs: task options passed to ``envpool.make`` (``num_levels``, ``start_level``, ...).
    """

    def __init__(self, task_id: str, num_envs: int, seed: int = 0, num_threads: int = 0,
                 **kwargs: object) -> None:
        import envpool  # deferred: heavy import, and only this module touches the engine

        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.task_id = task_id
        self.num_envs = int(num_envs)
        try:
            with warnings.catch_warnings():  # envpool's float64 Box bounds for float32 obs
                warnings.filterwarnings("ignore", message=".*precision lowered.*")
                self._env = envpool.make(task_id, env_type="gymnasium", num_envs=self.num_envs,
                                         seed=int(seed), num_threads=int(num_threads), **kwargs)
                self.single_observation_space = self._env.observation_space
                self.single_action_space = self._env.action_space
        except RuntimeError as err:  # e.g. the missing Qt runtime for ProcGen
            raise RuntimeError(f"envpool could not create {task_id!r}: {err}") from err
        self._returns = np.zeros(self.num_envs, dtype=np.float64)

    @property
    def obs_shape(self) -> tuple[int, ...]:
        """Shape of one environment's observation."""
        return tuple(self.single_observation_space.shape)

    @property
    def num_actions(self) -> int:
        """Number of discrete actions."""
        return int(self.single_action_space.n)

    def reset(self) -> np.ndarray:
        """Reset every environment; returns the first observations."""
        obs, _ = self._env.reset()
        self._returns[:] = 0.0
        return obs

    def step(self, actions: np.ndarray) -> StepResult:
        """Step every environment with ``actions`` (ints, shape (num_envs,))."""
        obs, reward, terminated, truncated, _ = self._env.step(np.asarray(actions, dtype=np.int32))
        done = np.logical_or(terminated, truncated)
        reward = np.asarray(reward, dtype=np.float32)
        self._returns += reward
        result = StepResult(obs=obs, reward=reward, done=done)
        if done.any():
            ids = np.flatnonzero(done)
            result.episode_returns = self._returns[ids].tolist()
            self._returns[ids] = 0.0
            first_obs, info = self._env.reset(ids.astype(np.int32))
            obs = obs.copy()  # envpool may hand out its own buffer
            obs[np.asarray(info["env_id"])] = first_obs
            result.obs = obs
        return result

    def close(self) -> None:
        """Release the engine's threads."""
        close = getattr(self._env, "close", None)
        if close is not None:
            close()


def make_procgen(game: str, distribution_mode: str, num_envs: int, num_levels: int,
                 start_level: int, seed: int, num_threads: int = 0) -> VecEnv:
    """ProcGen ``game`` on levels ``[start_level, start_level + num_levels)`` (0: all levels)."""
    if num_levels < 0 or start_level < 0:
        raise ValueError("env.num_levels and env.start_level must be >= 0 (num_levels=0: all levels)")
    return VecEnv(procgen_task_id(game, distribution_mode), num_envs=num_envs, seed=seed,
                  num_threads=num_threads, num_levels=int(num_levels), start_level=int(start_level))


def make_vec_env(task_id: str, num_envs: int, seed: int = 0, num_threads: int = 0) -> VecEnv:
    """Any other envpool task (e.g. ``"CartPole-v1"`` for the recipe's sanity test)."""
    return VecEnv(task_id, num_envs=num_envs, seed=seed, num_threads=num_threads)
