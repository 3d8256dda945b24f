"""A zoo of frame-based PushT policies of graded quality, and the frame-only success judge, for
sim-to-real policy evaluation (:func:`dreamgym.evaluation.evaluate_in_world`).

Every policy is a chunk policy in the goal-observation convention: ``policy(obs)`` with
``obs = {"observation": frame, "desired_goal": goal_image, ...}`` returns ``(chunk_size, 2)``
float32 relative actions. It sees only frames: the state is read off the current frame and the
goal pose off the goal image (:func:`~.reader.read_state`), so it runs unchanged in a world
model and in gym-pusht. Inside a chunk it plans open loop on its own copy of the simulator,
reset to the state it read. Stochastic policies restart their draws at ``reset(seed)``
(``evaluate_policies`` passes the episode's seed), so an episode draws the same noise in the
dream and in the real world.

* :class:`ExpertChunks` — the scripted expert (:func:`~.expert.expert_target`), with optional
  Gaussian action ``noise`` and a ``misaim`` (its actions turned by that many degrees: a
  miscalibrated robot that believes it moves where it aims).
* :class:`WeakExplorer` — random steps kept within 100 px of the block (stable-worldmodel's
  "WeakPolicy"): it touches the T but pushes it nowhere in particular.
* :class:`RandomChunks` — uniform random actions.
* :func:`policy_zoo` — eight of them, best first; their real success rates on the protocol
  tasks are measured by ``benchmarks/pusht_world.py`` (docs/pusht.md).
* :class:`FrameSuccess` — success judged from frames only.
"""

from __future__ import annotations

import math

import numpy as np

from .env import COVERAGE_SUCCESS, TASKS, pose_success
from .expert import ExpertState, expert_target, relative_action
from .reader import read_state
from .sim import PushTSim

WEAK_RADIUS = 100.0  # px around the block the weak explorer's targets are drawn in


class FrameSuccess:
    """Success judged from frames only, in any of ``frames`` (n, H, W, 3): for ``"pose"`` the
    state read off a frame within 20 px and 20 degrees of the state read off the goal image
    (:func:`~.env.pose_success`); for ``"coverage"`` the T, placed where it was read, covering
    more than 95% of gym-pusht's goal zone."""

    def __init__(self, task: str = "pose") -> None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        self.task = task
        self._sim: PushTSim | None = None

    def __call__(self, frames, goal_image) -> bool:
        states = read_state(np.asarray(frames, dtype=np.uint8).reshape(-1, *np.shape(goal_image)))
        if self.task == "pose":
            goal = read_state(np.asarray(goal_image))
            return any(np.isfinite(s).all() and pose_success(s, goal) for s in states)
        self._sim = self._sim or PushTSim()
        for s in states:
            if np.isfinite(s).all():
                self._sim.reset_to(s)
                if self._sim.coverage() > COVERAGE_SUCCESS:
                    return True
        return False


class _ChunkPolicy:
    """Shared by the zoo: read the state and the goal, plan ``chunk_size`` steps on a copy."""

    def __init__(self, chunk_size: int = 8, seed: int = 0) -> None:
        self.chunk_size, self._seed = int(chunk_size), seed
        self._sim: PushTSim | None = None
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Restart memory and draws: from ``(seed of the policy, seed)`` when an episode seed is given."""
        self.rng = np.random.default_rng(self._seed if seed is None else [self._seed, seed])
        self._goal_image_key: bytes | None = None
        self._goal: np.ndarray | None = None
        self.memory = ExpertState()

    def _read_goal(self, goal_image) -> np.ndarray:
        key = np.asarray(goal_image).tobytes()
        if key != self._goal_image_key:
            self._goal_image_key, self._goal = key, read_state(np.asarray(goal_image))
        return self._goal

    def __call__(self, obs) -> np.ndarray:
        state = read_state(np.asarray(obs["observation"]))
        goal = self._read_goal(obs["desired_goal"])
        if not (np.isfinite(state).all() and np.isfinite(goal).all()):
            return self.rng.uniform(-0.3, 0.3, (self.chunk_size, 2)).astype(np.float32)
        self._sim = self._sim or PushTSim()
        self._sim.reset_to(state)
        out = np.empty((self.chunk_size, 2), np.float32)
        for t in range(self.chunk_size):
            s = self._sim.state()
            believed = self._action(s, goal)  # what the policy means to do
            self._sim.step(believed)
            out[t] = self._executed(believed)
        return out

    def _action(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _executed(self, action: np.ndarray) -> np.ndarray:
        return action


class ExpertChunks(_ChunkPolicy):
    """The scripted expert on frames. ``noise``: Gaussian action noise (std, action units);
    ``misaim``: its actions turned by that many degrees (it plans as if they were not)."""

    def __init__(self, chunk_size: int = 8, noise: float = 0.0, misaim: float = 0.0, seed: int = 0) -> None:
        self.noise = float(noise)
        a = math.radians(float(misaim))
        self._rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        super().__init__(chunk_size, seed)

    def _action(self, state, goal):
        return relative_action(state[:2], expert_target(state, goal, self.memory))

    def _executed(self, action):
        a = self._rot @ action
        if self.noise:
            a = a + self.rng.normal(0.0, self.noise, 2)
        return np.clip(a, -1.0, 1.0).astype(np.float32)


class WeakExplorer(_ChunkPolicy):
    """Random steps towards targets within 100 px of the block."""

    def _action(self, state, goal):
        return relative_action(state[:2], state[2:4] + self.rng.uniform(-WEAK_RADIUS, WEAK_RADIUS, 2))


class RandomChunks:
    """Uniform random actions in [-1, 1] from its own seeded generator."""

    def __init__(self, chunk_size: int = 8, seed: int = 0) -> None:
        self.chunk_size, self._seed = int(chunk_size), seed
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Restart the draws: from ``(seed of the policy, seed)`` when an episode seed is given."""
        self.rng = np.random.default_rng(self._seed if seed is None else [self._seed, seed])

    def __call__(self, obs) -> np.ndarray:
        return self.rng.uniform(-1, 1, (self.chunk_size, 2)).astype(np.float32)


def policy_zoo(chunk_size: int = 8, seed: int = 0) -> dict:
    """Eight frame-based PushT policies of graded quality, best first (names are stable); their
    real success on 50 protocol tasks is in docs/pusht.md."""
    return {
        "expert": ExpertChunks(chunk_size, seed=seed),
        "expert-misaimed10": ExpertChunks(chunk_size, misaim=10.0, seed=seed + 1),
        "expert+noise0.1": ExpertChunks(chunk_size, noise=0.1, seed=seed + 2),
        "expert+noise0.2": ExpertChunks(chunk_size, noise=0.2, seed=seed + 3),
        "expert-misaimed20": ExpertChunks(chunk_size, misaim=20.0, seed=seed + 4),
        "expert-misaimed30": ExpertChunks(chunk_size, misaim=30.0, seed=seed + 5),
        "weak": WeakExplorer(chunk_size, seed=seed + 6),
        "random": RandomChunks(chunk_size, seed=seed + 7),
    }


__all__ = [
    "ExpertChunks",
    "FrameSuccess",
    "RandomChunks",
    "WeakExplorer",
    "policy_zoo",
]
