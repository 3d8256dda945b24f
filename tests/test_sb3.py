"""Stable-Baselines3 (2.9.2, a client nobody here wrote) on the dream envs."""

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from conftest import smooth_frame  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402

import dreamgym  # noqa: E402, F401
from dreamgym.sb3 import SB3VecEnv, make_sb3_vec_env  # noqa: E402

STARTS = np.stack([smooth_frame(32, 32, i) for i in range(4)])


def test_ppo_trains_through_the_adapter_on_the_batched_env():
    venv = make_sb3_vec_env(num_envs=4, engine="tiny-random", start_frames=STARTS, max_episode_steps=3)
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=192)  # 3 rollouts of 16 steps x 4 envs, crossing episode ends
    assert model.num_timesteps >= 192
    rewards, lengths = evaluate_policy(model, venv, n_eval_episodes=4, return_episode_rewards=True)
    assert lengths == [3, 3, 3, 3]


def test_episode_ends_follow_sb3s_conventions():
    venv = make_sb3_vec_env(num_envs=2, engine="tiny-random", start_frames=STARTS, max_episode_steps=2)
    venv.seed(5)
    obs = venv.reset()
    assert obs.shape == (2, 32, 32, 3) and obs.dtype == np.uint8
    act = np.zeros((2, *venv.action_space.shape), np.float32)
    _, _, dones, infos = venv.step(act)
    assert not dones.any() and infos[0]["chunk_index"] == 1
    obs2, rewards, dones, infos = venv.step(act)
    assert dones.all() and rewards.shape == (2,)
    for i in range(2):
        assert infos[i]["TimeLimit.truncated"] is True
        assert infos[i]["terminal_observation"].shape == (32, 32, 3)
        assert infos[i]["frames"].shape[0] == 4
    assert not np.array_equal(obs2[0], infos[0]["terminal_observation"])  # already reset


def test_flat_actions_are_refused_not_reshaped_on_a_guess():
    venv = make_sb3_vec_env(num_envs=2, engine="tiny-random", start_frames=STARTS, max_episode_steps=2)
    venv.reset()
    flat = np.zeros((2, int(np.prod(venv.action_space.shape))), np.float32)
    with pytest.raises(ValueError, match=r"actions must have shape \(num_envs, \*action_space.shape\) = \(2, 4, 2\)"):
        venv.step(flat)


def test_the_adapter_needs_same_step_autoreset():
    from dreamgym import DreamVectorEnv

    with pytest.raises(ValueError, match="SAME_STEP"):
        SB3VecEnv(DreamVectorEnv(2, engine="tiny-random", start_frames=STARTS))


def test_sb3s_env_checker_passes_on_the_single_envs():
    import gymnasium as gym

    from dreamgym import PerStepAdapter

    sb3_check_env(gym.make("dreamgym/Dream-v0", engine="tiny-random", start_frames=STARTS).unwrapped)
    sb3_check_env(PerStepAdapter(gym.make("dreamgym/Dream-v0", engine="tiny-random", start_frames=STARTS)))
