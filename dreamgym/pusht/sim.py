"""gym-pusht underneath, our conventions on top: exact states, 64x64 frames, goal images.

The state of the task is ``(5,)`` float64 ``[pusher_x, pusher_y, block_x, block_y, block_angle]``
in gym-pusht's pixels (a 512 x 512 table) and radians, as gym-pusht observes it. Two of its
conventions are replaced here:

* **Reset to a state round-trips.** gym-pusht's ``reset_to_state`` sets the block's position
  before its angle, and pymunk then turns the body about its centre of gravity, so the block
  comes back elsewhere (REFERENCE.md measured ~73 px); it also runs one physics step.
  :meth:`PushTSim.reset_to` sets the angle first, then the position, and does not step:
  :meth:`PushTSim.state` then returns exactly the state given.
* **Frames are drawn from the full canvas with area averaging.** gym-pusht draws a 512 x 512
  canvas and resizes it linearly (jagged at 64 px); :meth:`PushTSim.frame` averages areas
  (``cv2.INTER_AREA``), so a 64 x 64 frame keeps the T's pose readable. The goal zone is drawn
  as gym-pusht draws it (light green, at its fixed pose).

A mid-episode state cannot be cloned exactly into a fresh simulator: pymunk keeps contact
caches that warm-start the next steps, so a clone taken during contact drifts (measured: up to
25 px within 25 steps). Exact copies replay from a reset state instead (:meth:`PushTSim.replay`).
"""

from __future__ import annotations

import os

import numpy as np

TABLE = 512  # gym-pusht's table is 512 x 512 pixels
SIZE = 64  # our frames are 64 x 64
ACTION_SCALE = 100.0  # a relative action in [-1, 1]^2 moves the pusher's target by up to 100 px
GOAL_POSE = np.array([256.0, 256.0, np.pi / 4])  # gym-pusht's fixed goal zone (x, y, angle)
STATE_DIM = 5


def _pusht():
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame prints a banner on import otherwise
    try:
        import cv2
        import pygame
        from gym_pusht.envs.pusht import PushTEnv
    except ImportError as e:  # pragma: no cover - the extra is missing
        raise ImportError(
            f"the PushT world needs the 'pusht' extra (gym-pusht): pip install -e '.[pusht]' ({e})"
        ) from None
    return PushTEnv, cv2, pygame


def as_state(state, name: str = "state") -> np.ndarray:
    """A PushT state (5,) float64, checked: finite, positions on the 512 x 512 table."""
    s = np.asarray(state, dtype=np.float64)
    if s.shape != (STATE_DIM,):
        raise ValueError(
            f"{name} must have shape (5,): [pusher_x, pusher_y, block_x, block_y, block_angle], got {s.shape}"
        )
    if not np.isfinite(s).all():
        raise ValueError(f"{name} must be finite, got {s.tolist()}")
    if (s[:4] < 0).any() or (s[:4] > TABLE).any():
        raise ValueError(f"{name}'s positions must lie on the table [0, {TABLE}], got {s[:4].tolist()}")
    return s


# the T in its body frame (gym-pusht's add_tee, scale 30): the bar, then the stem
T_CORNERS = np.array(
    [[-60.0, 30.0], [60.0, 30.0], [60.0, 0.0], [-60.0, 0.0], [-15.0, 30.0], [-15.0, 120.0], [15.0, 120.0], [15.0, 30.0]]
)


def t_corners(state) -> np.ndarray:
    """The T's eight corners (8, 2) on the table for a state (5,) (pymunk turns local (x, y) to
    (x cos - y sin, x sin + y cos) about the body origin)."""
    s = np.asarray(state, dtype=np.float64)
    c, n = np.cos(s[4]), np.sin(s[4])
    rot = np.array([[c, -n], [n, c]])
    return T_CORNERS @ rot.T + s[2:4]


def t_on_table(state, margin: float = 8.0) -> bool:
    """Whether the whole T lies on the table, ``margin`` px inside its edges (a pushed T can be
    forced through gym-pusht's walls; it is then partly out of the frame)."""
    return bool(((t_corners(state) >= margin) & (t_corners(state) <= TABLE - margin)).all())


def random_start(rng: np.random.Generator) -> np.ndarray:
    """A start state (5,) drawn as gym-pusht draws one (pusher in [50, 450]^2, block in
    [100, 400]^2, any angle), from ``rng``."""
    return np.array(
        [
            rng.integers(50, 450),
            rng.integers(50, 450),
            rng.integers(100, 400),
            rng.integers(100, 400),
            rng.uniform(-np.pi, np.pi),
        ],
        dtype=np.float64,
    )


def angle_difference(a, b) -> np.ndarray:
    """|a - b| wrapped to [0, pi] (radians), elementwise."""
    d = np.mod(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64) + np.pi, 2 * np.pi) - np.pi
    return np.abs(d)


class PushTSim:
    """One gym-pusht simulator with exact state handling and our frames.

    Args:
        size: frame side in pixels (default 64).
    """

    def __init__(self, size: int = SIZE) -> None:
        env_cls, self._cv2, self._pygame = _pusht()
        self.size = int(size)
        self.env = env_cls(obs_type="state", render_mode="rgb_array")
        self.env.reset(seed=0)

    # --- state ----------------------------------------------------------------------------
    def reset_to(self, state) -> None:
        """Put the simulator in ``state`` (5,) at rest: exactly that state, no physics step."""
        s = as_state(state)
        env = self.env
        env._setup()
        env.agent.position = (float(s[0]), float(s[1]))
        env.agent.velocity = (0.0, 0.0)
        env.block.angle = float(s[4])  # the angle first: setting it turns the body about its centre
        env.block.position = (float(s[2]), float(s[3]))
        env.block.velocity = (0.0, 0.0)
        env.block.angular_velocity = 0.0
        for body in (env.agent, env.block):  # the shapes' cached world geometry (drawing, queries)
            env.space.reindex_shapes_for_body(body)
        env._last_action = None

    def state(self) -> np.ndarray:
        """The current state (5,) float64 (the angle as pymunk holds it, not wrapped)."""
        a, b = self.env.agent.position, self.env.block.position
        return np.array([a[0], a[1], b[0], b[1], self.env.block.angle], dtype=np.float64)

    def coverage(self) -> float:
        """Fraction of gym-pusht's goal zone the block covers (its success: > 0.95)."""
        return float(self.env._get_coverage())

    # --- dynamics ---------------------------------------------------------------------------
    def target(self, action) -> np.ndarray:
        """The pusher's absolute target (2,) for a relative action (2,) in [-1, 1]^2."""
        a = np.asarray(action, dtype=np.float64)
        pos = np.asarray(self.env.agent.position, dtype=np.float64)
        return np.clip(pos + ACTION_SCALE * a, 0.0, float(TABLE))

    def step(self, action) -> None:
        """One control step (0.1 s: ten physics steps of gym-pusht's PD controller) towards the
        target of a relative action (2,) in [-1, 1]^2."""
        self.env.step(self.target(action))

    def replay(self, start_state, actions) -> np.ndarray:
        """States (T, 5) after each of ``actions`` (T, 2) from ``start_state`` at rest; exact
        (the same bits as stepping one simulator from that reset)."""
        self.reset_to(start_state)
        out = np.empty((len(actions), STATE_DIM))
        for t, a in enumerate(np.asarray(actions, dtype=np.float64)):
            self.step(a)
            out[t] = self.state()
        return out

    # --- frames -----------------------------------------------------------------------------
    def frame(self) -> np.ndarray:
        """The current scene as a (size, size, 3) uint8 frame, area-averaged from the 512 canvas."""
        screen = self.env._draw()
        canvas = np.transpose(np.array(self._pygame.surfarray.pixels3d(screen)), (1, 0, 2))
        return self._cv2.resize(canvas, (self.size, self.size), interpolation=self._cv2.INTER_AREA)

    def render(self, states) -> np.ndarray:
        """Frames (N, size, size, 3) uint8 of states (N, 5) at rest (this simulator is reset)."""
        states = np.atleast_2d(np.asarray(states, dtype=np.float64))
        out = np.empty((len(states), self.size, self.size, 3), np.uint8)
        for i, s in enumerate(states):
            self.reset_to(s)
            out[i] = self.frame()
        return out


__all__ = [
    "T_CORNERS",
    "t_corners",
    "t_on_table",
    "ACTION_SCALE",
    "GOAL_POSE",
    "SIZE",
    "STATE_DIM",
    "TABLE",
    "PushTSim",
    "angle_difference",
    "as_state",
]
