"""Typed configuration of the PPO-on-ProcGen recipe; defaults are the ProcGen paper's.

Every field is a documented, sweepable hyperparameter. Importing this module registers
:class:`PPOConfig` in Hydra's ConfigStore as ``base_ppo``, the schema of ``conf/ppo.yaml``, and
one ``env`` group option per ProcGen game (``env=coinrun``, ``env=bigfish``, ...) plus
``env=procgen16`` (all 16 games); OmegaConf checks field names and types as Hydra composes and
``__post_init__`` checks ranges and cross-field rules. :meth:`PPOConfig.from_dict` turns a Hydra
``DictConfig`` / plain dict into a validated config and names any unknown or bad field.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from recipes.common.config import config_error
from recipes.ppo.envs import DISTRIBUTION_MODES, PROCGEN_GAMES

__all__ = ["EnvConfig", "PPOConfig"]


def _fail(name: str, value: Any, fix: str) -> None:
    raise ValueError(f"{name}={value!r} is invalid: {fix}")


@dataclass
class EnvConfig:
    """Which ProcGen games and levels to train and evaluate on (paper: 200 training levels)."""

    games: list[str] = field(default_factory=lambda: ["coinrun"])
    """ProcGen games; one agent is trained per game and the normalized scores are averaged."""
    distribution_mode: str = "easy"
    """ProcGen difficulty: 'easy' (the paper's 25M-step setting) or 'hard'."""
    num_levels: int = 200
    """Number of training levels (0: the full, unbounded level distribution)."""
    start_level: int = 0
    """Seed of the first training level."""
    test_num_levels: int = 0
    """Number of held-out test levels (0: the full distribution, as in the paper)."""
    test_start_level: int = 0
    """Seed of the first test level."""

    def __post_init__(self) -> None:
        if isinstance(self.games, str):  # EnvConfig(games="coinrun") from Python
            self.games = [self.games]
        self.games = list(self.games)
        if not self.games:
            _fail("env.games", self.games, "name at least one ProcGen game, e.g. [coinrun]")
        for game in self.games:
            if game not in PROCGEN_GAMES:
                _fail("env.games", game, f"unknown ProcGen game; choose from {', '.join(PROCGEN_GAMES)}")
        if len(set(self.games)) != len(self.games):
            _fail("env.games", self.games, "list each game once")
        if self.distribution_mode not in DISTRIBUTION_MODES:
            _fail("env.distribution_mode", self.distribution_mode, "use 'easy' or 'hard'")
        for name in ("num_levels", "start_level", "test_num_levels", "test_start_level"):
            if getattr(self, name) < 0:
                _fail(f"env.{name}", getattr(self, name), "must be an integer >= 0")


@dataclass
class PPOConfig:
    """PPO with an IMPALA-CNN on ProcGen (Cobbe et al. 2020; CleanRL's ppo_procgen.py)."""

    env: EnvConfig = field(default_factory=EnvConfig)
    """Games and levels (a Hydra config group: ``env=coinrun``)."""
    total_timesteps: Any = 25_000_000
    """Environment steps to train for, per game: a whole number, ``1e6`` accepted (the schema
    leaves it untyped because OmegaConf 2.3 has no ``int | float``; ``__post_init__`` makes it an
    ``int``)."""
    learning_rate: float = 5e-4
    """Adam learning rate."""
    anneal_lr: bool = False
    """Anneal the learning rate linearly to 0 (the paper keeps it constant)."""
    adam_eps: float = 1e-5
    """Adam epsilon."""
    num_envs: int = 64
    """Parallel environments per game."""
    num_steps: int = 256
    """Steps per environment per rollout (batch = num_envs * num_steps)."""
    gamma: float = 0.999
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    num_minibatches: int = 8
    """Minibatches per epoch; must divide num_envs * num_steps."""
    update_epochs: int = 3
    """Passes over each rollout."""
    clip_coef: float = 0.2
    """PPO surrogate clipping epsilon."""
    clip_vloss: bool = True
    """Clip the value loss around the old values (as the paper's baselines code)."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip."""
    norm_adv: bool = True
    """Normalise advantages per minibatch."""
    norm_reward: bool = True
    """Divide rewards by the running std of the discounted return (the paper's VecNormalize)."""
    reward_clip: float = 10.0
    """Clip normalised rewards to [-reward_clip, reward_clip]."""
    width_multiplier: float = 1.0
    """Scales the IMPALA-CNN channels [16, 32, 32] and the 256-unit dense layer."""
    seed: int = 1
    """Seed of torch, numpy and the engine."""
    device: str = "auto"
    """'auto' (CUDA if available), 'cpu' or 'cuda[:i]'."""
    torch_threads: int = 0
    """torch CPU threads (0: leave torch's setting alone)."""
    env_threads: int = 0
    """envpool worker threads (0: one per core)."""
    eval_episodes: int = 64
    """Episodes per game and level set (train / test) in the final evaluation."""
    eval_num_envs: int = 32
    """Parallel environments used by the evaluation."""
    eval_max_steps: int = 20_000
    """Safety cap on evaluation steps per environment."""
    objective: str = "test"
    """Which levels' mean normalized score becomes ``output``: 'test' or 'train'."""
    cost_metric: str = "env_steps"
    """Unit of ``cost``: 'env_steps' (training steps, all games) or 'seconds' (wall time)."""
    checkpoint_dir: str | None = None
    """Directory for checkpoints (state_dicts + JSON meta); None disables them."""
    checkpoint_every: int = 50
    """Save a checkpoint every this many updates (and at the end of each game)."""
    resume: bool = True
    """Continue from checkpoint_dir if it holds a checkpoint of the same config."""
    progress: bool = True
    """Show a tqdm progress bar."""

    def __post_init__(self) -> None:
        if isinstance(self.env, Mapping):  # PPOConfig(env={"games": [...]}) from Python
            self.env = EnvConfig(**dict(self.env))
        value = self.total_timesteps
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                float(value).is_integer() and value >= 1):
            _fail("total_timesteps", value, "must be a whole number >= 1 (1e6 is fine)")
        self.total_timesteps = int(value)
        for name in ("num_envs", "num_steps", "num_minibatches", "update_epochs",
                     "eval_episodes", "eval_num_envs", "eval_max_steps", "checkpoint_every"):
            if getattr(self, name) < 1:
                _fail(name, getattr(self, name), "must be an integer >= 1")
        for name in ("seed", "torch_threads", "env_threads"):
            if getattr(self, name) < 0:
                _fail(name, getattr(self, name), "must be an integer >= 0")
        for name in ("learning_rate", "adam_eps", "clip_coef", "max_grad_norm", "reward_clip",
                     "width_multiplier"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                _fail(name, value, "must be a finite number > 0")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                _fail(name, getattr(self, name), "must be in [0, 1]")
        for name in ("ent_coef", "vf_coef"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                _fail(name, value, "must be a finite number >= 0")
        if self.batch_size % self.num_minibatches:
            _fail("num_minibatches", self.num_minibatches,
                  f"must divide the batch num_envs * num_steps = {self.batch_size}")
        if self.objective not in ("test", "train"):
            _fail("objective", self.objective, "use 'test' or 'train'")
        if self.cost_metric not in ("env_steps", "seconds"):
            _fail("cost_metric", self.cost_metric, "use 'env_steps' or 'seconds'")
        if not (self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda")):
            _fail("device", self.device, "use 'auto', 'cpu' or 'cuda[:i]'")

    @property
    def batch_size(self) -> int:
        """Transitions per rollout: num_envs * num_steps."""
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        """Transitions per minibatch."""
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        """Rollout/update iterations per game (total_timesteps rounded up to whole batches)."""
        return -(-self.total_timesteps // self.batch_size)

    @classmethod
    def from_dict(cls, data: PPOConfig | Mapping[str, Any]) -> PPOConfig:
        """Build from a plain dict, a Hydra ``DictConfig`` or a ``PPOConfig`` (returned as is).

        The values are merged onto the schema, so unknown fields (``+foo=1`` on the command
        line too) and values of the wrong type are errors naming the field, like the range
        checks of ``__post_init__``.
        """
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):  # DictConfig is a Mapping
            raise TypeError(f"expected a mapping or DictConfig, got {type(data).__name__}")
        _check_known_fields(data)
        try:
            return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(cls), data))
        except OmegaConfBaseException as err:
            raise config_error(err) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-serialisable)."""
        return dataclasses.asdict(self)


def _check_known_fields(data: Mapping[str, Any]) -> None:
    """Every key must be a field (``env``'s keys fields of :class:`EnvConfig`): a key added on
    the command line with ``+`` (``+foo=1``, ``+env.foo=1``) gets past Hydra's schema check,
    and OmegaConf's merge onto the schema keeps it silently."""
    env = data.get("env")
    for prefix, keys, schema in (("", data.keys(), PPOConfig),
                                 ("env.", env.keys() if isinstance(env, Mapping) else (),
                                  EnvConfig)):
        valid = {f.name for f in dataclasses.fields(schema)}
        unknown = sorted(str(k) for k in keys if k not in valid)
        if unknown:
            raise ValueError(f"{prefix}{unknown[0]}: unknown field; valid fields: "
                             f"{sorted(prefix + name for name in valid)}")


def _register_schemas() -> None:
    """The schema of ``conf/ppo.yaml`` (``defaults: [base_ppo, env: coinrun]``) and the env
    group's options: one per game, and ``procgen16``. Runs on import, not in ``__main__``: a
    launcher's worker process composes each job's config again after unpickling it."""
    store = ConfigStore.instance()
    store.store(name="base_ppo", node=PPOConfig)
    for game in PROCGEN_GAMES:
        store.store(group="env", name=game, node=EnvConfig(games=[game]))
    store.store(group="env", name="procgen16", node=EnvConfig(games=list(PROCGEN_GAMES)))


_register_schemas()
