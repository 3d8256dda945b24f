"""The LeRobot env contract, checked the way ``lerobot-eval`` drives an env (LeRobot itself
cannot be installed beside this project): a vector env from ``make_env(n_envs)``, per-step
``(B, action_dim)`` actions from a policy's ``select_action(batch)``, the image under
``"pixels"``, ``info["is_success"]`` on every reset and step, ``task``/``task_description``."""

import numpy as np
import torch

from dreamgym.lerobot import make_env


class HoldPolicy:
    """A LeRobot-style per-step policy: ``select_action(batch) -> (B, action_dim)``."""

    def __init__(self, action_dim: int) -> None:
        self.action_dim = action_dim

    def reset(self) -> None:
        pass

    def select_action(self, batch: dict) -> torch.Tensor:
        image = batch["observation.image"]  # (B, 3, H, W) float in [0, 1], as LeRobot preprocesses
        assert image.ndim == 4 and image.shape[1] == 3 and float(image.max()) <= 1.0
        return torch.full((image.shape[0], self.action_dim), 0.25)


def preprocess(obs: dict) -> dict:
    """What LeRobot's ``preprocess_observation`` does with ``pixels``."""
    img = torch.from_numpy(obs["pixels"]).permute(0, 3, 1, 2).float() / 255.0
    return {"observation.image": img}


def test_make_env_follows_lerobots_contract_through_a_rollout():
    envs = make_env(n_envs=2, engine="tiny-random", task="reach the red disc", max_episode_steps=6)
    assert envs.num_envs == 2
    assert list(envs.call("task_description")) == list(envs.call("task")) == ["reach the red disc"] * 2
    obs, info = envs.reset(seed=0)
    assert obs["pixels"].shape == (2, 32, 32, 3) and obs["pixels"].dtype == np.uint8
    assert info["is_success"].tolist() == [False, False]
    policy = HoldPolicy(envs.single_action_space.shape[0])
    policy.reset()
    done_at = None
    for t in range(1, 7):
        action = policy.select_action(preprocess(obs)).numpy()
        assert action.shape == (2, 2)
        obs, reward, terminated, truncated, info = envs.step(action)
        assert "is_success" in info and info["is_success"].dtype == bool
        if (terminated | truncated).all():
            done_at = t
            break
    assert done_at == 6  # max_episode_steps counts per-step actions
    envs.close()


def test_closed_loop_is_the_default_and_open_loop_is_available():
    envs = make_env(n_envs=1, engine="tiny-random", mode="open_loop", max_episode_steps=4)
    obs, _ = envs.reset(seed=0)
    first = obs["pixels"].copy()
    for _ in range(3):  # open loop: the start frame repeats until the first chunk is predicted
        obs, *_ = envs.step(np.zeros((1, 2), np.float32))
        np.testing.assert_array_equal(obs["pixels"], first)
    closed = make_env(n_envs=1, engine="tiny-random", max_episode_steps=4)
    obs, _ = closed.reset(seed=0)
    obs, *_ = closed.step(np.full((1, 2), 0.9, np.float32))
    assert not np.array_equal(obs["pixels"], first)  # closed loop: the frame the action produced
