"""The toy world behind the world protocol (:class:`dreamgym.worlds.World`): :data:`TOY`."""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym
import numpy as np

from .. import seeds
from ..worlds import WorldBase
from .env import SUCCESS_PX, TASKS, task_distance
from .model import ToyWorldModel
from .rendering import locate, render
from .tasks import MAX_STEPS, task_episode, task_scorer
from .zoo import FrameSuccess, policy_zoo


class ToyWorld(WorldBase):
    """The toy push world: states ``[pusher_x, pusher_y, block_x, block_y]`` (px on the 64x64
    table), tasks ``push`` (block within 4 px of its goal) and ``reach`` (pusher within 3 px)."""

    name = "toy"
    env_id = "dreamgym/Push-v0"
    tasks = TASKS
    state_dim = 4
    learned_model = "push-64"

    def make_env(self, task: str = "push", max_episode_steps: int | None = None) -> gym.Env:
        return super().make_env(task, max_episode_steps)

    def reset_options(self, start, goal, task: str = "push") -> dict:
        return {"state": np.asarray(start, dtype=np.float64), "goal": np.asarray(goal, dtype=np.float64), "task": task}

    def exact_model(self) -> ToyWorldModel:
        return ToyWorldModel()

    def render(self, states) -> np.ndarray:
        return render(np.asarray(states, dtype=np.float64))

    def read_state(self, frames) -> np.ndarray:
        return locate(np.asarray(frames))

    def errors(self, state, goal, task: str) -> dict[str, float]:
        what = "pusher" if task == "reach" else "block"
        return {f"{what}_distance_px": float(task_distance(state, goal, task))}

    def criterion(self, task: str) -> str:
        what = "pusher" if task == "reach" else "block"
        return f"{what} within {SUCCESS_PX[task]:g} px of its goal"

    def is_success(self, state, goal, task: str) -> bool:
        return bool(task_distance(state, goal, task) <= SUCCESS_PX[task])

    def frame_success(self, task: str) -> FrameSuccess:
        return FrameSuccess(task)

    def task(self, task: str, index: int, purpose: str = "evaluation") -> tuple[np.ndarray, np.ndarray]:
        return task_episode(task, index, seeds.base(purpose))

    def budget(self, task: str) -> int:
        return MAX_STEPS[task]

    def scorer(self, task: str, goal_image):
        return task_scorer(task, goal_image)

    def policy_zoo(self, chunk_size: int = 8, seed: int = 0) -> dict:
        return policy_zoo(chunk_size, seed)

    def write_episodes(
        self, path: str | os.PathLike, n: int, *, purpose: str = "training", length: int | None = None
    ) -> Path:
        from .episodes import write_episodes  # on use: `python -m ...episodes` runs it as a script

        return write_episodes(path, n, seed=seeds.base(purpose), length=length or 32)


TOY = ToyWorld()

__all__ = ["TOY", "ToyWorld"]
