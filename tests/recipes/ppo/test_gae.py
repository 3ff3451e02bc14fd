"""GAE against a hand-computed example, and the return-variance reward normaliser."""
import numpy as np
import pytest
import torch

from recipes.ppo import RewardNormalizer, RunningMeanStd, compute_gae, explained_variance


def test_gae_matches_hand_computed_example_with_an_episode_end():
    # env 0 ends its episode at t=1; env 1 never ends.  gamma=0.9, lambda=0.8.
    rewards = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 1.0]])
    values = torch.tensor([[0.5, 0.0], [1.0, 0.0], [1.5, 0.0]])
    dones = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    next_value = torch.tensor([2.0, 0.0])
    adv, ret = compute_gae(rewards, values, dones, next_value, gamma=0.9, gae_lambda=0.8)
    # env 0: t=2: 3 + .9*2 - 1.5 = 3.3; t=1 (end): 2 - 1 = 1.0 (no bootstrap, no carry);
    #        t=0: (1 + .9*1 - .5) + .9*.8*1.0 = 2.12
    # env 1: t=2: 1; t=1: .72; t=0: .5184
    expected = torch.tensor([[2.12, 0.5184], [1.0, 0.72], [3.3, 1.0]])
    assert torch.allclose(adv, expected, atol=1e-6)
    assert torch.allclose(ret, expected + values, atol=1e-6)


def test_gae_lambda_one_is_discounted_return_minus_value():
    rewards = torch.ones(4, 1)
    values = torch.full((4, 1), 0.25)
    adv, ret = compute_gae(rewards, values, torch.zeros(4, 1), torch.zeros(1), 0.5, 1.0)
    assert torch.allclose(ret[:, 0], torch.tensor([1.875, 1.75, 1.5, 1.0]))
    assert torch.allclose(adv, ret - values)


def test_running_mean_std_matches_numpy():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(50, 8))
    rms = RunningMeanStd()
    for row in data:
        rms.update(row)
    assert rms.mean == pytest.approx(data.mean(), rel=1e-3)
    assert rms.var == pytest.approx(data.var(), rel=1e-3)


def test_reward_normalizer_scales_by_return_std_and_resets_on_done():
    norm = RewardNormalizer(num_envs=2, gamma=0.5, clip=10.0)
    out = norm(np.array([1.0, 2.0]), np.array([False, True]))
    assert np.allclose(norm.returns, [1.0, 0.0])  # the finished env restarts its return
    assert np.allclose(out, np.array([1.0, 2.0]) / np.sqrt(norm.rms.var + 1e-8))
    big = RewardNormalizer(num_envs=1, gamma=0.99, clip=3.0)
    for _ in range(20):
        big(np.array([0.01]), np.array([False]))
    assert big(np.array([1e6]), np.array([False]))[0] == pytest.approx(3.0)


def test_explained_variance():
    target = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(target, target) == pytest.approx(1.0)
    assert explained_variance(torch.zeros(4), target) == pytest.approx(0.0)
