"""What the GPU path needs from the PPO update, checked on the CPU: the update reads the device
once (not per minibatch and parameter tensor), a non-finite update still fails naming the
fix, and a learner's state (CUDA's generator too, when on a GPU) replays its action sampling.
(On a GPU, ``benchmarks/gpu_check.py``'s ppo section counts the synchronisations and checks the
CUDA generator.)"""
from __future__ import annotations

import copy

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from recipes.ppo import PPO, MLPAgent, PPOConfig, make_vec_env
from recipes.ppo.ppo import NonFiniteLossError, ppo_update, rng_state, set_rng_state


class HostReads(TorchDispatchMode):
    """Counts reads of tensor values by the host: ``item()``, ``float()``, ``bool()`` (each an
    ``aten._local_scalar_dense``; a GPU->CPU synchronisation on CUDA) and ``tolist()``."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


def _batch(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, 4, generator=g)
    actions = torch.randint(0, 2, (n,), generator=g)
    logprobs = torch.full((n,), -0.69)
    advantages, values = torch.randn(n, generator=g), torch.randn(n, generator=g)
    return obs, actions, logprobs, advantages, advantages + values, values


@pytest.mark.parametrize(("minibatches", "epochs"), [(1, 1), (8, 3)])
def test_an_update_reads_the_device_once(monkeypatch, minibatches, epochs):
    cfg = PPOConfig(num_envs=8, num_steps=32, num_minibatches=minibatches, update_epochs=epochs)
    torch.manual_seed(0)
    agent = MLPAgent(obs_dim=4, num_actions=2)
    # SGD: Adam reads its step counters with item(), which are CPU tensors even on a GPU
    optimizer = torch.optim.SGD(agent.parameters(), lr=1e-3)
    tolist_calls = []
    tolist = torch.Tensor.tolist
    monkeypatch.setattr(torch.Tensor, "tolist",
                        lambda self: tolist_calls.append(1) or tolist(self))
    with HostReads() as reads:
        stats = ppo_update(agent, optimizer, *_batch(cfg.batch_size), cfg)
    assert reads.count + len(tolist_calls) == 1  # one tolist() of flag and statistics
    assert set(stats) == {"policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
                          "explained_variance"}
    assert all(isinstance(v, float) for v in stats.values())


def test_a_non_finite_update_still_fails_naming_the_fix():
    cfg = PPOConfig(num_envs=8, num_steps=32, num_minibatches=4, update_epochs=1)
    agent = MLPAgent(obs_dim=4, num_actions=2)
    optimizer = torch.optim.Adam(agent.parameters(), lr=1e-3)
    obs, *rest = _batch(cfg.batch_size)
    obs[3] = float("nan")
    with pytest.raises(NonFiniteLossError, match="learning_rate"):
        ppo_update(agent, optimizer, obs, *rest, cfg)


def test_a_restored_state_replays_the_action_sampling():
    cfg = PPOConfig(num_envs=4, num_steps=8, num_minibatches=2, update_epochs=1, seed=2)
    envs = make_vec_env("CartPole-v1", cfg.num_envs, seed=2, num_threads=1)
    try:
        learner = PPO(MLPAgent(obs_dim=4, num_actions=2), envs, cfg, torch.device("cpu"))
        obs = torch.randn(64, 4)
        state = copy.deepcopy(learner.state_dict())
        assert set(rng_state(torch.device("cpu"))) <= set(state)
        first = learner.agent.get_action_and_value(obs)[0]
        torch.rand(1000)  # the generator moves on
        learner.load_state_dict(state)
        assert torch.equal(learner.agent.get_action_and_value(obs)[0], first)
    finally:
        envs.close()


def test_a_gpu_checkpoint_resumes_on_a_cpu():
    """A CUDA generator state (saved by a GPU run) is kept for a GPU and ignored on a CPU."""
    state = {**rng_state(torch.device("cpu")), "cuda_rng": torch.zeros(16, dtype=torch.uint8)}
    set_rng_state(state, torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), state["torch_rng"])
