"""``dreamgym/Push-v0``: the toy world as a Gymnasium environment ("the real robot").

One step is one action ``(2,)`` float32 in [-1, 1] (pusher velocity); the observation is
the rendered frame ``(64, 64, 3)`` uint8, the same conventions as the ``push-64`` world
model, so one policy runs in both.

``reset(seed=..., options=...)`` options:
    ``state``: (4,) start state ``[pusher_x, pusher_y, block_x, block_y]`` (default: random).
    ``goal``:  (4,) goal state (default: random); ``info["goal_image"]`` is its rendering.
    ``task``:  ``"push"`` (block to its goal, default) or ``"reach"`` (pusher to its goal).
Reward: minus the task distance in pixels. ``terminated`` when the task is solved
(``info["is_success"]``): distance at most ``success_px`` (3 px reach, 4 px push).
The simulator state is in ``info["state"]`` for evaluation only.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from . import physics as tw
from . import rendering

TASKS = ("push", "reach")
SUCCESS_PX = {"reach": 3.0, "push": 4.0}


def task_distance(state: np.ndarray, goal: np.ndarray, task: str) -> np.ndarray:
    """Pixels between the task's object and its goal; state/goal (..., 4)."""
    sl = slice(0, 2) if task == "reach" else slice(2, 4)
    return np.linalg.norm(np.asarray(state)[..., sl] - np.asarray(goal)[..., sl], axis=-1)


def _as_state(value, name: str) -> np.ndarray:
    s = np.asarray(value, dtype=np.float64)
    if s.shape != (4,) or not np.isfinite(s).all():
        raise ValueError(
            f"options[{name!r}] must be 4 finite numbers [pusher_x, pusher_y, block_x, block_y], got {value!r}"
        )
    lo = np.array([tw.PUSHER_RADIUS] * 2 + [tw.BLOCK_HALF] * 2)
    if (s < lo).any() or (s > tw.SIZE - lo).any():
        raise ValueError(f"options[{name!r}] = {s.tolist()} puts an object outside the {tw.SIZE}x{tw.SIZE} table")
    return s


class PushEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, task: str = "push") -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        self.render_mode = render_mode
        self.task = task
        self.observation_space = spaces.Box(0, 255, (tw.SIZE, tw.SIZE, 3), np.uint8)
        self.action_space = spaces.Box(-1.0, 1.0, (tw.ACTION_DIM,), np.float32)
        self._state = np.zeros(4)
        self._goal = np.zeros(4)
        self._frame = np.zeros((tw.SIZE, tw.SIZE, 3), np.uint8)

    def _info(self) -> dict:
        dist = float(task_distance(self._state, self._goal, self.task))
        return {
            "state": self._state.copy(),
            "goal_state": self._goal.copy(),
            "goal_image": rendering.render(self._goal)[0],
            "task": self.task,
            "distance": dist,
            "is_success": bool(dist <= SUCCESS_PX[self.task]),
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        task = options.pop("task", self.task)
        if task not in TASKS:
            raise ValueError(f"options['task'] must be one of {TASKS}, got {task!r}")
        self.task = task
        state = options.pop("state", None)
        goal = options.pop("goal", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; expected 'state', 'goal', 'task'")
        self._state = _as_state(state, "state") if state is not None else tw.random_states(self.np_random, 1)[0]
        self._goal = _as_state(goal, "goal") if goal is not None else tw.random_states(self.np_random, 1)[0]
        self._frame = rendering.render(self._state)[0]
        return self._frame.copy(), self._info()

    def step(self, action):
        a = np.asarray(action)
        if a.shape != (tw.ACTION_DIM,):
            raise ValueError(f"action must have shape ({tw.ACTION_DIM},), got {a.shape}")
        if not np.issubdtype(a.dtype, np.number) or not np.isfinite(a).all():
            raise ValueError(f"action must be finite numbers, got {action!r}")
        if (a < -1).any() or (a > 1).any():
            raise ValueError(f"action must lie within [-1, 1], got {a.tolist()}")
        self._state = tw.step_state(self._state[None], a[None].astype(np.float64))[0]
        self._frame = rendering.render(self._state)[0]
        info = self._info()
        return self._frame.copy(), -info["distance"], bool(info["is_success"]), False, info

    def render(self):
        return self._frame.copy()
