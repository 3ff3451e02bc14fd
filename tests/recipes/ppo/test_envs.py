"""The envpool wrapper: real ProcGen and CartPole, same-step auto-reset, episode returns."""
import numpy as np
import pytest

from recipes.ppo import VecEnv, make_procgen, make_vec_env, procgen_task_id


def test_procgen_observations_and_actions():
    envs = make_procgen("starpilot", "easy", num_envs=4, num_levels=200, start_level=0, seed=0,
                        num_threads=1)
    try:
        obs = envs.reset()
        assert obs.shape == (4, 3, 64, 64) and obs.dtype == np.uint8
        assert envs.obs_shape == (3, 64, 64) and envs.num_actions == 15
        rng = np.random.default_rng(0)
        finished = []
        for _ in range(300):  # starpilot episodes of a random agent end well within 300 steps
            step = envs.step(rng.integers(0, 15, 4))
            assert step.obs.shape == (4, 3, 64, 64) and step.reward.dtype == np.float32
            finished += step.episode_returns
        assert finished, "no StarPilot episode ended in 300 random steps"
    finally:
        envs.close()


def test_same_step_auto_reset_and_episode_returns_on_cartpole():
    envs = make_vec_env("CartPole-v1", num_envs=2, seed=0, num_threads=1)
    obs = envs.reset()
    assert obs.shape == (2, 4)
    total = np.zeros(2)
    for _ in range(200):
        step = envs.step(np.zeros(2, dtype=np.int64))  # always push left: falls in ~10 steps
        total += step.reward
        # no dead "reset" transitions (reward 0): every real CartPole step earns +1
        assert np.all(step.reward == 1.0)
        if step.done.any():
            ids = np.flatnonzero(step.done)
            assert step.episode_returns == pytest.approx(total[ids].tolist())
            # the returned observation is the new episode's first one: near the centre
            assert np.all(np.abs(step.obs[ids]) < 0.06)
            total[ids] = 0.0


def test_task_ids_and_errors():
    assert procgen_task_id("coinrun") == "CoinrunEasy-v0"
    assert procgen_task_id("bigfish", "hard") == "BigfishHard-v0"
    with pytest.raises(ValueError, match="env.games"):
        procgen_task_id("pong")
    with pytest.raises(ValueError, match="num_envs"):
        VecEnv("CartPole-v1", num_envs=0)
