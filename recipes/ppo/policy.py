"""Actor-critic networks: the IMPALA-CNN of the ProcGen paper, and a small MLP for vector tasks.

Both expose the same interface, which is all :mod:`recipes.ppo.ppo` uses:
``get_value(obs)`` and ``get_action_and_value(obs, action=None)``.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Categorical

__all__ = ["ActorCritic", "ImpalaAgent", "ImpalaCNN", "MLPAgent"]


def _init(layer: nn.Module, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.constant_(layer.bias, bias)
    return layer


class ResidualBlock(nn.Module):
    """relu -> conv3x3 -> relu -> conv3x3, plus the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


class ConvSequence(nn.Module):
    """conv3x3 -> maxpool3x3/2 -> two residual blocks (one IMPALA stage)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.res0 = ResidualBlock(out_channels)
        self.res1 = ResidualBlock(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res1(self.res0(self.pool(self.conv(x))))


class ImpalaCNN(nn.Module):
    """IMPALA-CNN torso (Espeholt et al. 2018) as used by the ProcGen paper.

    Args:
        obs_shape: (channels, height, width) of uint8 observations.
        channels: per-stage channels before the width multiplier (paper: 16, 32, 32).
        hidden: dense layer width before the multiplier (paper: 256).
        width_multiplier: scales ``channels`` and ``hidden`` (rounded, at least 1).
    """

    def __init__(self, obs_shape: tuple[int, ...], channels: tuple[int, ...] = (16, 32, 32),
                 hidden: int = 256, width_multiplier: float = 1.0) -> None:
        super().__init__()
        c, h, w = obs_shape
        stages = []
        for out in channels:
            out = max(1, round(out * width_multiplier))
            stages.append(ConvSequence(c, out))
            c, h, w = out, (h + 1) // 2, (w + 1) // 2
        self.stages = nn.Sequential(*stages)
        self.out_features = max(1, round(hidden * width_multiplier))
        self.fc = nn.Linear(c * h * w, self.out_features)
        # channels-last convolutions: ~2x faster on CPU (measured), and what cuDNN prefers
        self.stages.to(memory_format=torch.channels_last)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = (obs.float() / 255.0).contiguous(memory_format=torch.channels_last)
        x = self.stages(x)
        return torch.relu(self.fc(torch.relu(torch.flatten(x, 1))))


class ActorCritic(nn.Module):
    """A torso followed by a policy head (logits) and a value head."""

    def __init__(self, torso: nn.Module, features: int, num_actions: int) -> None:
        super().__init__()
        self.torso = torso
        self.actor = _init(nn.Linear(features, num_actions), gain=0.01)
        self.critic = _init(nn.Linear(features, 1), gain=1.0)

    def get_value(self, obs: torch.Tensor) -> torch.Tensor:
        """State values, shape (batch,)."""
        return self.critic(self.torso(obs)).squeeze(-1)

    def get_action_and_value(
        self, obs: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample (or score) actions: returns action, log-prob, entropy, value.

        Sampling checks the logits first (NaN logits cannot be sampled from); scoring given
        actions, as the PPO update does, reads nothing back from the device (the update checks
        its gradients once instead), and neither validates the distribution's arguments (a
        device read per call)."""
        features = self.torso(obs)
        logits = self.actor(features)
        if action is None and not bool(torch.isfinite(logits).all()):
            raise FloatingPointError("non-finite policy logits (the network diverged); "
                                     "try a lower learning_rate")
        dist = Categorical(logits=logits, validate_args=False)
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.critic(features).squeeze(-1)

    def greedy_action(self, obs: torch.Tensor) -> torch.Tensor:
        """The most likely action."""
        return self.actor(self.torso(obs)).argmax(-1)


class ImpalaAgent(ActorCritic):
    """IMPALA-CNN actor-critic for ProcGen's (3, 64, 64) uint8 observations."""

    def __init__(self, obs_shape: tuple[int, ...], num_actions: int,
                 width_multiplier: float = 1.0) -> None:
        torso = ImpalaCNN(obs_shape, width_multiplier=width_multiplier)
        super().__init__(torso, torso.out_features, num_actions)


class MLPAgent(ActorCritic):
    """Two tanh layers, for vector observations (CartPole); same heads as :class:`ImpalaAgent`."""

    def __init__(self, obs_dim: int, num_actions: int, hidden: int = 64) -> None:
        torso = nn.Sequential(
            _init(nn.Linear(obs_dim, hidden)), nn.Tanh(),
            _init(nn.Linear(hidden, hidden)), nn.Tanh(),
        )
        super().__init__(torso, hidden, num_actions)
