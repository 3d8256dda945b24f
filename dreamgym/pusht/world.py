"""The PushT world behind the world protocol (:class:`dreamgym.worlds.World`): :data:`PUSHT`."""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym
import numpy as np

from ..worlds import WorldBase
from .env import ANGLE_TOL_DEG, COVERAGE_SUCCESS, POS_TOL_PX, TASKS, pose_error, pose_success
from .model import PushTModel
from .reader import read_state
from .scorer import PoseScorer
from .sim import GOAL_POSE, PushTSim
from .tasks import BUDGET, full_task, protocol_task
from .zoo import FrameSuccess, policy_zoo

FULL_TASK_STEPS = 300  # gym-pusht's episode length


class PushTWorld(WorldBase):
    """PushT on gym-pusht: states ``[pusher_x, pusher_y, block_x, block_y, block_angle]`` (px
    on the 512 x 512 table, radians); tasks ``pose`` (the field's protocol: within 20 px and
    20 degrees of a goal 25 expert steps ahead, 50 steps) and ``coverage`` (gym-pusht's own
    task: the T covers 95% of its goal zone within 300 steps)."""

    name = "pusht"
    env_id = "dreamgym/PushT-v0"
    tasks = TASKS
    state_dim = 5
    learned_model = "pusht-64"

    def __init__(self) -> None:
        self._sim: PushTSim | None = None

    def _simulator(self) -> PushTSim:
        self._sim = self._sim or PushTSim()
        return self._sim

    def make_env(self, task: str = "pose", max_episode_steps: int | None = None) -> gym.Env:
        return super().make_env(task, max_episode_steps)

    def reset_options(self, start, goal, task: str = "pose") -> dict:
        return {"start_state": np.asarray(start, dtype=np.float64), "goal_state": np.asarray(goal, dtype=np.float64)}

    def exact_model(self) -> PushTModel:
        return PushTModel()

    def render(self, states) -> np.ndarray:
        return self._simulator().render(states)

    def read_state(self, frames) -> np.ndarray:
        return read_state(np.asarray(frames))

    def errors(self, state, goal, task: str) -> dict[str, float]:
        if task == "coverage":
            sim = self._simulator()
            sim.reset_to(state)
            return {"coverage": sim.coverage()}
        pos, ang = pose_error(state, goal)
        return {"pos_error_px": pos, "angle_error_deg": ang}

    def criterion(self, task: str) -> str:
        if task == "coverage":
            return f"coverage > {COVERAGE_SUCCESS:g}"
        return f"< {POS_TOL_PX:g} px (pusher and T) and < {ANGLE_TOL_DEG:g} deg"

    def is_success(self, state, goal, task: str) -> bool:
        if task == "coverage":
            return self.errors(state, goal, task)["coverage"] > COVERAGE_SUCCESS
        return pose_success(state, goal)

    def frame_success(self, task: str) -> FrameSuccess:
        return FrameSuccess(task)

    def task(self, task: str, index: int, purpose: str = "evaluation") -> tuple[np.ndarray, np.ndarray]:
        if task == "pose":
            return protocol_task(index, purpose, sim=self._simulator())
        if task == "coverage":
            start = full_task(index, purpose)
            return start, np.array([start[0], start[1], *GOAL_POSE])
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")

    def budget(self, task: str) -> int:
        return BUDGET if task == "pose" else FULL_TASK_STEPS

    def scorer(self, task: str, goal_image) -> PoseScorer:
        return PoseScorer(goal_image)

    def policy_zoo(self, chunk_size: int = 8, seed: int = 0) -> dict:
        return policy_zoo(chunk_size, seed)

    def write_episodes(
        self, path: str | os.PathLike, n: int, *, purpose: str = "training", length: int | None = None
    ) -> Path:
        from .episodes import write_episodes  # on use: `python -m ...episodes` runs it as a script

        return write_episodes(path, n, purpose=purpose, length=length or 96)


PUSHT = PushTWorld()

__all__ = ["FULL_TASK_STEPS", "PUSHT", "PushTWorld"]
