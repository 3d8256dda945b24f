"""``dreamgym/PushT-v0``: PushT (gym-pusht) as a real robot with our frame and action conventions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .history import FRAMES
from .sim import GOAL_POSE, SIZE, TABLE, PushTSim, angle_difference, as_state, random_start

POS_TOL_PX = 20.0  # the field's success criterion (DINO-WM, stable-worldmodel): joint position error
ANGLE_TOL_DEG = 20.0  # and the T's angle error
COVERAGE_SUCCESS = 0.95  # gym-pusht's own success: the block covers 95% of the goal zone
TASKS = ("pose", "coverage")


def pose_error(state, goal) -> tuple[float, float]:
    """(position error in px, angle error in degrees) of ``state`` against ``goal`` (each (5,)).

    The position error is one L2 norm over ``[pusher_x, pusher_y, block_x, block_y]``: the
    pusher's position is part of the criterion, as in DINO-WM's and stable-worldmodel's PushT.
    """
    s, g = np.asarray(state, dtype=np.float64), np.asarray(goal, dtype=np.float64)
    return float(np.linalg.norm(s[:4] - g[:4])), float(np.degrees(angle_difference(s[4], g[4])))


def pose_success(state, goal, pos_tol: float = POS_TOL_PX, angle_tol_deg: float = ANGLE_TOL_DEG) -> bool:
    """The field's PushT success: position error < ``pos_tol`` px and angle error < ``angle_tol_deg``."""
    pos, ang = pose_error(state, goal)
    return bool(pos < pos_tol and ang < angle_tol_deg)


class PushTEnv(gym.Env):
    """PushT on gym-pusht, with 64x64 frames and relative actions.

    ## Description

    A circular pusher pushes a T-shaped block on a 512 x 512 table (gym-pusht's simulator,
    pymunk physics, 10 Hz control). Frames are drawn from gym-pusht's full-resolution canvas
    and area-averaged to 64 x 64; the goal zone is drawn as gym-pusht draws it.

    ## Action Space

    ``Box(-1, 1, (2,), float32)``: the pusher's target moves to its position plus
    ``100 * action`` px (clipped to the table), tracked by gym-pusht's PD controller.

    ## Observation Space

    ``Box(0, 255, (64, 64, 3), uint8)``: the current frame. ``info["state"]`` is the true state
    ``[pusher_x, pusher_y, block_x, block_y, block_angle]`` (px, radians).

    ## Rewards

    ``task="pose"``: 1.0 on the step that reaches the goal pose, else 0. ``task="coverage"``:
    gym-pusht's reward, ``clip(coverage / 0.95, 0, 1)``.

    ## Starting State

    ``reset(options={"start_state": s})`` starts exactly in ``s`` (at rest); otherwise a state
    is drawn with the env's RNG as gym-pusht draws one (pusher in [50, 450]^2, block in
    [100, 400]^2, any angle). ``options={"goal_state": g}`` sets the goal pose of the ``pose``
    task (default: the block on gym-pusht's goal zone, the pusher where it starts);
    ``info["goal_image"]`` is the frame of the goal state.

    ## Episode End

    Terminates on success: ``pose``, within 20 px (one norm over the pusher's and the block's
    positions) and 20 degrees of the goal state (the DINO-WM / stable-worldmodel criterion);
    ``coverage``, gym-pusht's coverage above 0.95. Truncation: the ``TimeLimit`` of
    ``gym.make`` (300 steps, gym-pusht's).

    ## Arguments

    ``task``: ``"pose"`` (default) or ``"coverage"``. ``render_mode``: None or ``"rgb_array"``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, task: str = "pose", render_mode: str | None = None) -> None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.task, self.render_mode = task, render_mode
        self.sim = PushTSim(SIZE)
        self.observation_space = spaces.Box(0, 255, (SIZE, SIZE, 3), np.uint8)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.goal_state = np.array([256.0, 400.0, *GOAL_POSE])
        self.goal_image: np.ndarray | None = None
        self._frame = np.zeros((SIZE, SIZE, 3), np.uint8)
        self._live = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        start = options.pop("start_state", None)
        goal = options.pop("goal_state", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; expected 'start_state', 'goal_state'")
        if start is None:
            start = random_start(self.np_random)
        start = as_state(start, "options['start_state']")
        goal = np.array([start[0], start[1], *GOAL_POSE]) if goal is None else as_state(goal, "options['goal_state']")
        self.goal_state = goal.copy()
        self.goal_image = self.sim.render(goal)[0]
        self.sim.reset_to(start)
        self._frame = self.sim.frame()
        self._anchor, self._actions = start.copy(), []
        FRAMES.record(self._frame, self._anchor, np.zeros((0, 2)))
        self._live = True
        return self._frame.copy(), self._info(success=False)

    def _info(self, success: bool) -> dict:
        state = self.sim.state()
        pos, ang = pose_error(state, self.goal_state)
        return {
            "state": state,
            "goal_state": self.goal_state.copy(),
            "goal_image": self.goal_image.copy(),
            "coverage": self.sim.coverage(),
            "pos_error_px": pos,
            "angle_error_deg": ang,
            "is_success": bool(success),
        }

    def step(self, action):
        if not self._live:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(action, dtype=np.float32)
        if a.shape != (2,):
            raise ValueError(f"action must have shape (2,) (a relative move in [-1, 1]^2), got {a.shape}")
        if not np.isfinite(a).all() or (np.abs(a) > 1.0).any():
            raise ValueError(f"action must be finite and within [-1, 1], got {a.tolist()}")
        self.sim.step(a)
        self._frame = self.sim.frame()
        self._actions.append(a.astype(np.float64))
        FRAMES.record(self._frame, self._anchor, np.stack(self._actions))
        if self.task == "pose":
            success = pose_success(self.sim.state(), self.goal_state)
            reward = 1.0 if success else 0.0
        else:
            coverage = self.sim.coverage()
            success = coverage > COVERAGE_SUCCESS
            reward = float(np.clip(coverage / COVERAGE_SUCCESS, 0.0, 1.0))
        return self._frame.copy(), reward, bool(success), False, self._info(success)

    def render(self):
        return self._frame.copy()


__all__ = [
    "ANGLE_TOL_DEG",
    "COVERAGE_SUCCESS",
    "POS_TOL_PX",
    "TASKS",
    "TABLE",
    "PushTEnv",
    "pose_error",
    "pose_success",
]
