"""The LeRobot env contract on the dream env, without LeRobot installed.

LeRobot's evaluation loop (``lerobot-eval``) drives a Gymnasium *vector* env from a
``make_env(n_envs)`` entry, with per-step policies (``select_action(batch) -> (B, action_dim)``),
and expects: observations as a dict with the camera image under ``"pixels"`` (H, W, 3) uint8
(it renames that to ``observation.image``), ``info["is_success"]`` on every reset and step
(and in ``final_info`` when an episode ends), and the task text as the env attributes
``task`` and ``task_description``. LeRobot itself cannot share this environment (it pins
diffusers < 0.36, torch < 2.11 and needs torchvision), so this follows its contract and
is tested against it.

    from dreamgym.lerobot import make_env
    envs = make_env(n_envs=4, engine="push-64", task="push the block to the goal")
    obs, info = envs.reset(seed=0)          # obs["pixels"]: (4, 64, 64, 3) uint8
    obs, r, term, trunc, info = envs.step(actions)   # actions (4, action_dim), one per step
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from engine.validation import as_int

from .wrappers import PerStepAdapter


class LeRobotObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Observations as ``{"pixels": frame}``, ``info["is_success"]`` always, ``task`` and
    ``task_description`` attributes (LeRobot's env contract)."""

    def __init__(self, env: gym.Env, task: str = "reach the goal") -> None:
        gym.utils.RecordConstructorArgs.__init__(self, task=task)
        gym.Wrapper.__init__(self, env)
        if not isinstance(task, str) or not task:
            raise ValueError(f"task must be a non-empty string, got {task!r}")
        self.task = task
        self.task_description = task
        self.observation_space = spaces.Dict({"pixels": env.observation_space})

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return {"pixels": np.array(obs)}, {**info, "is_success": bool(info.get("is_success", False))}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = {**info, "is_success": bool(info.get("is_success", False))}
        return {"pixels": np.array(obs)}, float(reward), terminated, truncated, info


def make_env(
    n_envs: int = 1,
    *,
    engine="push-64",
    task: str = "reach the goal",
    mode: str = "closed_loop",
    max_episode_steps: int = 128,
    use_async_envs: bool = False,
    **env_kwargs,
) -> gym.vector.VectorEnv:
    """``n_envs`` per-step dream envs (``PerStepAdapter`` in ``mode``) under LeRobot's
    contract, as a ``SyncVectorEnv`` (``AsyncVectorEnv`` with ``use_async_envs``).
    ``max_episode_steps`` counts per-step actions; other keyword arguments go to ``DreamEnv``
    (``scorer``, ``success_fn``, ``start_frames``, ...)."""
    n_envs = as_int(n_envs, "n_envs", low=1)

    def one():
        from .dream_env import DreamEnv

        inner = DreamEnv(engine=engine, **env_kwargs)
        return LeRobotObservation(PerStepAdapter(inner, mode=mode, max_episode_steps=max_episode_steps), task=task)

    fns = [one] * n_envs
    return gym.vector.AsyncVectorEnv(fns) if use_async_envs else gym.vector.SyncVectorEnv(fns)
