"""A zoo of frame-based push policies of graded quality, and the frame-only success judge, for
sim-to-real policy evaluation (:func:`dreamgym.evaluation.evaluate_policies`).

Stochastic policies restart their noise at ``reset(seed)`` (``evaluate_policies`` passes the
episode's seed), so an episode draws the same noise in the dream and in the toy world.

Every policy is a chunk policy in the goal-observation convention: ``policy(obs)`` with
``obs = {"observation": frame, "desired_goal": goal_image, ...}`` returns ``(chunk_size, 2)``
float32 actions. It sees only frames: it locates the pusher and the block by colour in the
current frame and the block's goal in the goal image, so it runs unchanged in the world
model and in the toy world. Inside a chunk it plans open loop on its own copy of the physics.

* :func:`policy_zoo` — eight of them, from an expert to random.
* :class:`PushController` — go behind the block (opposite its goal), then push it there.
  ``noise`` (action noise std) and ``angle_error`` (a miscalibrated push direction, degrees)
  make worse policies of the same family.
* :class:`GoToGoal` — drives the pusher to the block's goal position (a wrong idea of the task).
* :class:`RandomPolicy` — uniform random actions.
"""

from __future__ import annotations

import math

import numpy as np

from . import physics as tw
from .env import SUCCESS_PX, TASKS
from .rendering import locate


class FrameSuccess:
    """Success judged from frames only: the task's object, located by colour, within ``px`` of
    where the goal image shows it, in any of ``frames`` (n, H, W, 3)."""

    def __init__(self, task: str = "push", px: float | None = None):
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        self.task, self.px = task, float(SUCCESS_PX[task] if px is None else px)
        self._sl = slice(2, 4) if task == "push" else slice(0, 2)

    def __call__(self, frames, goal_image) -> bool:
        goal = locate(np.asarray(goal_image))[self._sl]
        pos = locate(np.asarray(frames))[..., self._sl]
        d = np.linalg.norm(pos - goal, axis=-1)
        return bool(np.any(np.isfinite(d) & (d <= self.px)))


def _chunk(obs, chunk_size: int, action) -> np.ndarray:
    """``chunk_size`` actions planned open loop on a copy of the physics from the state seen in
    the observation: ``action(state (4,), goal block (2,)) -> (2,)`` per step, clipped to
    [-1, 1]. Zeros when the pusher, the block or the goal cannot be located."""
    state = locate(np.asarray(obs["observation"]))
    goal = locate(np.asarray(obs["desired_goal"]))[2:]
    out = np.zeros((chunk_size, 2))
    if not (np.isfinite(state).all() and np.isfinite(goal).all()):
        return out.astype(np.float32)
    s = state[None].copy()
    for t in range(chunk_size):
        out[t] = np.clip(action(s[0], goal), -1, 1)
        s = tw.step_state(s, out[t][None])
    return out.astype(np.float32)


class PushController:
    """Go behind the block, then push it to its goal; stop there. Parameters degrade it:
    ``noise`` adds Gaussian action noise (std, action units), ``angle_error`` rotates the push
    direction by that many degrees, ``gain`` scales the speed."""

    def __init__(self, chunk_size: int = 8, noise: float = 0.0, angle_error: float = 0.0, gain: float = 0.6, seed=0):
        self.chunk_size, self.noise, self.gain = int(chunk_size), float(noise), float(gain)
        a = math.radians(angle_error)
        self._rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        self._seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Restart the noise: from ``(seed of the policy, seed)`` when an episode seed is given."""
        self.rng = np.random.default_rng(self._seed if seed is None else [self._seed, seed])

    def _action(self, s: np.ndarray, goal: np.ndarray) -> np.ndarray:
        p, b = s[:2], s[2:]
        to_goal = goal - b
        dist = np.linalg.norm(to_goal)
        if dist <= 1.0:
            return np.zeros(2)
        u = self._rot @ (to_goal / dist)
        reach = tw.BLOCK_HALF + tw.PUSHER_RADIUS
        behind = b - u * (reach + 1.0)
        along = float(np.dot(p - b, u))
        if along > -reach + 0.5 and np.linalg.norm(p - behind) > 2.0:
            # on the wrong side or beside the block: go round it, via the nearer side
            perp = np.array([-u[1], u[0]])
            side = perp if np.dot(p - b, perp) >= 0 else -perp
            target = b + side * (reach + 3.0) - u * 3.0
            if np.linalg.norm(p - target) < 2.0 or along < 0:
                target = behind
        elif np.linalg.norm(p - behind) > 2.0 and along <= -reach + 0.5:
            target = behind
        else:
            target = p + u * min(dist, 4.0)  # in contact: push along u
        return np.clip(self.gain * (target - p), -1, 1)

    def __call__(self, obs) -> np.ndarray:
        def act(state, goal):
            a = self._action(state, goal)
            return a + self.noise * self.rng.normal(size=2) if self.noise > 0 else a

        return _chunk(obs, self.chunk_size, act)


class GoToGoal:
    """Drive the pusher to the block's goal position, ignoring the block."""

    def __init__(self, chunk_size: int = 8, gain: float = 0.5):
        self.chunk_size, self.gain = int(chunk_size), float(gain)

    def __call__(self, obs) -> np.ndarray:
        return _chunk(obs, self.chunk_size, lambda state, goal: self.gain * (goal - state[:2]))


class RandomPolicy:
    """Uniform random actions in [-1, 1] from its own seeded generator."""

    def __init__(self, chunk_size: int = 8, seed: int = 0):
        self.chunk_size = int(chunk_size)
        self._seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Restart the draws: from ``(seed of the policy, seed)`` when an episode seed is given."""
        self.rng = np.random.default_rng(self._seed if seed is None else [self._seed, seed])

    def __call__(self, obs) -> np.ndarray:
        return self.rng.uniform(-1, 1, (self.chunk_size, 2)).astype(np.float32)


def policy_zoo(chunk_size: int = 8, seed: int = 0) -> dict:
    """Eight frame-based push policies of graded quality, best first (names are stable). Their
    real success on the first 50 evaluation push episodes with 32 frames (4 chunks): 0.94,
    0.80, 0.76, 0.38, 0.30, 0.18, 0.04, 0.00 (docs/evaluation.md)."""
    return {
        "push": PushController(chunk_size),
        "push-misaimed30": PushController(chunk_size, angle_error=30.0),
        "push+noise0.5": PushController(chunk_size, noise=0.5, seed=seed),
        "push+noise1.0": PushController(chunk_size, noise=1.0, seed=seed + 1),
        "push-misaimed60": PushController(chunk_size, angle_error=60.0),
        "push+noise1.5": PushController(chunk_size, noise=1.5, seed=seed + 2),
        "go-to-goal": GoToGoal(chunk_size),
        "random": RandomPolicy(chunk_size, seed=seed + 3),
    }
