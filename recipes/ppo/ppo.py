"""The PPO algorithm (Schulman et al. 2017) as the ProcGen paper ran it, in one file.

One iteration of :class:`PPO` reads like the paper's pseudo-code:

1. ``collect_rollout``: step ``num_envs`` environments for ``num_steps`` steps with the current
   policy; rewards are divided by the running std of the discounted return (``RewardNormalizer``,
   the paper's VecNormalize) and clipped.
2. ``compute_gae``: generalised advantage estimates and value targets; an episode end cuts both
   the bootstrap and the advantage recursion (timeouts are treated as ends, as the paper did).
3. ``ppo_update``: ``update_epochs`` passes of ``num_minibatches`` shuffled minibatches over the
   clipped surrogate, the (clipped) value loss and the entropy bonus, with per-minibatch advantage
   normalisation and global gradient-norm clipping.

The networks are interchangeable (:mod:`recipes.ppo.policy`); the same code learns CartPole with an
MLP and ProcGen with the IMPALA-CNN.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from recipes.ppo.config import PPOConfig
from recipes.ppo.envs import VecEnv
from recipes.ppo.policy import ActorCritic

__all__ = [
    "PPO",
    "NonFiniteLossError",
    "RewardNormalizer",
    "Rollout",
    "RunningMeanStd",
    "compute_gae",
    "explained_variance",
    "ppo_update",
    "rng_state",
    "set_rng_state",
]


class NonFiniteLossError(FloatingPointError):
    """The PPO loss or the weights became NaN/inf (the run diverged).

    The policy raises a plain ``FloatingPointError`` for non-finite logits; ``train`` turns
    either into a failure result.
    """


class RunningMeanStd:
    """Running mean and variance of a stream of batches (parallel Welford / Chan et al.)."""

    def __init__(self) -> None:
        self.mean = 0.0
        self.var = 1.0
        self.count = 1e-4

    def update(self, batch: np.ndarray) -> None:
        """Fold a batch of samples into the statistics."""
        batch = np.asarray(batch, dtype=np.float64)
        b_mean, b_var, b_count = float(batch.mean()), float(batch.var()), batch.size
        delta = b_mean - self.mean
        total = self.count + b_count
        self.mean += delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict[str, float]:
        """Plain floats (safe for ``torch.load(weights_only=True)``)."""
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Restore from :meth:`state_dict`."""
        self.mean, self.var = float(state["mean"]), float(state["var"])
        self.count = float(state["count"])


class RewardNormalizer:
    """Scale rewards by the running std of the discounted return (baselines' VecNormalize).

    ``ret <- gamma * ret + r``; the std of ``ret`` is tracked; the reward is divided by it and
    clipped to ``[-clip, clip]``; ``ret`` restarts at 0 when an episode ends.
    """

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0, eps: float = 1e-8) -> None:
        self.gamma, self.clip, self.eps = gamma, clip, eps
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.rms = RunningMeanStd()

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        """Normalised rewards for one step of all environments."""
        self.returns = self.returns * self.gamma + reward
        self.rms.update(self.returns)
        scaled = np.clip(reward / np.sqrt(self.rms.var + self.eps), -self.clip, self.clip)
        self.returns[done] = 0.0
        return scaled.astype(np.float32)


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor,
                next_value: torch.Tensor, gamma: float, gae_lambda: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation.

    Args:
        rewards, values, dones: shape (T, N); ``dones[t]`` is 1 where the episode ended *at* step
            t (after its action), so ``values[t + 1]`` belongs to a new episode.
        next_value: value of the observation after the last step, shape (N,).

    Returns:
        (advantages, returns) with ``returns = advantages + values``.
    """
    num_steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(next_value)
    for t in reversed(range(num_steps)):
        following = next_value if t == num_steps - 1 else values[t + 1]
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * following * nonterminal - values[t]
        last = delta + gamma * gae_lambda * nonterminal * last
        advantages[t] = last
    return advantages, advantages + values


def _explained_variance(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """:func:`explained_variance` as a tensor on the data's device (no host sync)."""
    var = target.var()
    return torch.where(var == 0, torch.full_like(var, math.nan), 1.0 - (target - pred).var() / var)


def explained_variance(pred: torch.Tensor, target: torch.Tensor) -> float:
    """1 - Var[target - pred] / Var[target] (NaN when the target is constant)."""
    return float(_explained_variance(pred, target))


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The global random state PPO draws from on ``device``: torch's CPU generator, plus the
    device's CUDA generator (action sampling and dropout on a GPU draw from it), as tensors
    that ``torch.load(weights_only=True)`` reads."""
    state = {"torch_rng": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    """Restore :func:`rng_state`. A CUDA state is restored on a CUDA ``device`` only (a GPU
    checkpoint resumed on a CPU continues with the CPU generator alone)."""
    torch.set_rng_state(state["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"], device)


@dataclass
class Rollout:
    """One batch of experience, shape (num_steps, num_envs, ...) on the training device."""

    obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    values: torch.Tensor

    @classmethod
    def empty(cls, num_steps: int, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: torch.dtype,
              device: torch.device) -> Rollout:
        """Preallocated buffers."""
        def zeros(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.zeros((num_steps, num_envs, *shape), dtype=dtype, device=device)

        return cls(obs=zeros(*obs_shape, dtype=obs_dtype), actions=zeros(dtype=torch.long),
                   logprobs=zeros(), rewards=zeros(), dones=zeros(), values=zeros())


def ppo_update(agent: ActorCritic, optimizer: torch.optim.Optimizer, obs: torch.Tensor,
               actions: torch.Tensor, logprobs: torch.Tensor, advantages: torch.Tensor,
               returns: torch.Tensor, values: torch.Tensor, cfg: PPOConfig,
               generator: torch.Generator | None = None) -> dict[str, float]:
    """PPO epochs over one flattened batch; returns the diagnostics of the last epoch.

    The loop never waits for the device: the finiteness of the gradient norm (a NaN/inf loss
    gives NaN/inf gradients) and, at the end, of the weights is kept as a flag on the device,
    and the flag and the statistics come back to the host together, once per update (a check
    per minibatch and parameter tensor costs hundreds of GPU->CPU synchronisations).

    Raises:
        NonFiniteLossError: if the loss, the gradients or the weights became NaN or inf.
    """
    batch_size = obs.shape[0]
    minibatch_size = batch_size // cfg.num_minibatches
    clip_fracs: list[torch.Tensor] = []
    nonfinite = torch.zeros((), dtype=torch.bool, device=obs.device)
    for _ in range(cfg.update_epochs):
        clip_fracs.clear()
        order = torch.randperm(batch_size, generator=generator).to(obs.device)
        for start in range(0, batch_size, minibatch_size):
            idx = order[start:start + minibatch_size]
            _, new_logprob, entropy, new_value = agent.get_action_and_value(obs[idx], actions[idx])
            logratio = new_logprob - logprobs[idx]
            ratio = logratio.exp()
            with torch.no_grad():
                approx_kl = ((ratio - 1) - logratio).mean()
                clip_fracs.append(((ratio - 1.0).abs() > cfg.clip_coef).float().mean())

            adv = advantages[idx]
            if cfg.norm_adv and adv.numel() > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg_loss = torch.max(-adv * ratio,
                                -adv * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)).mean()

            if cfg.clip_vloss:
                v_clipped = values[idx] + (new_value - values[idx]).clamp(-cfg.clip_coef,
                                                                          cfg.clip_coef)
                v_loss = 0.5 * torch.max((new_value - returns[idx]) ** 2,
                                         (v_clipped - returns[idx]) ** 2).mean()
            else:
                v_loss = 0.5 * ((new_value - returns[idx]) ** 2).mean()
            entropy_loss = entropy.mean()
            loss = pg_loss - cfg.ent_coef * entropy_loss + cfg.vf_coef * v_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm)
            nonfinite |= ~torch.isfinite(grad_norm)
            optimizer.step()
    with torch.no_grad():
        weights_finite = torch.stack([torch.isfinite(p).all() for p in agent.parameters()]).all()
        summary = torch.stack([
            pg_loss.detach(), v_loss.detach(), entropy_loss.detach(), approx_kl,
            torch.stack(clip_fracs).mean(), _explained_variance(values, returns),
            (nonfinite | ~weights_finite).float(),
        ]).float()
    pg, vl, ent, kl, clip_frac, ev, bad = summary.tolist()  # the update's one host sync
    if bad:
        raise NonFiniteLossError(
            f"non-finite PPO loss, gradients or weights in this update (last minibatch: policy "
            f"{pg}, value {vl}, entropy {ent}); try a lower learning_rate")
    return {"policy_loss": pg, "value_loss": vl, "entropy": ent, "approx_kl": kl,
            "clip_fraction": clip_frac, "explained_variance": ev}


class PPO:
    """Training state of one agent on one :class:`~recipes.ppo.envs.VecEnv`.

    ``iterate()`` runs one rollout (``collect_rollout``) and one update (``learn``) and returns
    the update's statistics; :meth:`state_dict` / :meth:`load_state_dict` cover everything needed
    to resume except the environments.
    """

    def __init__(self, agent: ActorCritic, envs: VecEnv, cfg: PPOConfig, device: torch.device) -> None:
        if envs.num_envs != cfg.num_envs:
            raise ValueError(f"num_envs: config says {cfg.num_envs}, the VecEnv has {envs.num_envs}")
        self.agent, self.envs, self.cfg, self.device = agent.to(device), envs, cfg, device
        self.optimizer = torch.optim.Adam(agent.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps)
        self.reward_norm = RewardNormalizer(cfg.num_envs, cfg.gamma, cfg.reward_clip)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.global_step = 0
        self.update = 0
        self.episode_returns: list[float] = []
        self.next_obs = torch.as_tensor(envs.reset(), device=device)
        self.buffer = Rollout.empty(cfg.num_steps, cfg.num_envs, envs.obs_shape, self.next_obs.dtype,
                                    device)

    def collect_rollout(self) -> None:
        """Fill the buffer with ``num_steps`` steps of every environment."""
        buf = self.buffer
        for step in range(self.cfg.num_steps):
            with torch.no_grad():
                action, logprob, _, value = self.agent.get_action_and_value(self.next_obs)
            buf.obs[step] = self.next_obs
            buf.actions[step], buf.logprobs[step], buf.values[step] = action, logprob, value
            result = self.envs.step(action.cpu().numpy())
            reward = (self.reward_norm(result.reward, result.done) if self.cfg.norm_reward
                      else result.reward)
            buf.rewards[step] = torch.as_tensor(reward, device=self.device)
            buf.dones[step] = torch.as_tensor(result.done, device=self.device, dtype=torch.float32)
            self.next_obs = torch.as_tensor(result.obs, device=self.device)
            self.episode_returns.extend(result.episode_returns)
        self.global_step += self.cfg.batch_size

    def learn(self) -> dict[str, float]:
        """GAE on the collected rollout, then the PPO epochs; returns the diagnostics."""
        cfg = self.cfg
        if cfg.anneal_lr:
            frac = 1.0 - self.update / cfg.num_updates
            self.optimizer.param_groups[0]["lr"] = frac * cfg.learning_rate
        buf = self.buffer
        with torch.no_grad():
            next_value = self.agent.get_value(self.next_obs)
        advantages, returns = compute_gae(buf.rewards, buf.values, buf.dones, next_value,
                                          cfg.gamma, cfg.gae_lambda)

        def flat(x: torch.Tensor) -> torch.Tensor:  # (T, N, ...) -> (T * N, ...)
            return x.reshape(-1, *x.shape[2:])

        stats = ppo_update(self.agent, self.optimizer, flat(buf.obs), flat(buf.actions),
                           flat(buf.logprobs), flat(advantages), flat(returns), flat(buf.values),
                           cfg, self.generator)
        self.update += 1
        return stats

    def iterate(self) -> dict[str, float]:
        """One rollout and one PPO update."""
        self.collect_rollout()
        return self.learn()

    def state_dict(self) -> dict[str, object]:
        """Agent, optimizer, reward normaliser, counters and RNG states (CPU, and the CUDA
        device's when training on one, so a resumed GPU run samples the same actions)."""
        return {
            "agent": self.agent.state_dict(), "optimizer": self.optimizer.state_dict(),
            "reward_rms": self.reward_norm.rms.state_dict(),
            "generator": self.generator.get_state(), **rng_state(self.device),
            "global_step": self.global_step, "update": self.update,
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore from :meth:`state_dict` (the environments restart from fresh episodes)."""
        self.agent.load_state_dict(state["agent"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.reward_norm.rms.load_state_dict(state["reward_rms"])
        self.reward_norm.returns = np.zeros(self.cfg.num_envs, dtype=np.float64)
        self.generator.set_state(state["generator"])
        set_rng_state(state, self.device)
        self.global_step, self.update = int(state["global_step"]), int(state["update"])
