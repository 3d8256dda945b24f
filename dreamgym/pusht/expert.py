"""A scripted PushT expert: walk around the T to the contact point whose push best gives the
translation and rotation still needed, push, keep the contact for a while, repeat.

:func:`expert_target` works on states (what the dataset writer and the tests drive it with);
:class:`ExpertPolicy` sees only frames, reading the states with :func:`~.reader.read_state`,
as every policy of the zoo must.
"""

from __future__ import annotations

import numpy as np

from .reader import read_state
from .sim import ACTION_SCALE

PUSHER_RADIUS = 15.0
# the T's outline in its body frame (bar on top, stem below), and pymunk's centre of gravity
T_OUTLINE = np.array(
    [[-60.0, 0.0], [60.0, 0.0], [60.0, 30.0], [15.0, 30.0], [15.0, 120.0], [-15.0, 120.0], [-15.0, 30.0], [-60.0, 30.0]]
)
T_COG = np.array([0.0, 45.0])
SAFE_RADIUS = 77.0 + PUSHER_RADIUS + 12.0  # the T's farthest corner from its centre, the pusher, a margin
LEVER = 60.0  # px per radian: how rotation is weighed against translation
DEPTH = (0.4, 20.0, 3.0, 20.0)  # push depth = a * translation left + b * rotation left, clipped to [lo, hi] px


def _contacts(spacing: float = 8.0, corner_margin: float = 8.0):
    """Candidate contact points (N, 2) on the outline and their outward normals (N, 2), body frame."""
    pts, normals = [], []
    n = len(T_OUTLINE)
    for i in range(n):
        a, b = T_OUTLINE[i], T_OUTLINE[(i + 1) % n]
        edge = b - a
        length = float(np.linalg.norm(edge))
        t = edge / length
        normal = np.array([t[1], -t[0]])
        mid = (a + b) / 2
        # outward: away from the inside of the T (test a point just off the edge)
        if _inside_t(mid + 0.5 * normal):
            normal = -normal
        for s in np.arange(corner_margin, length - corner_margin + 1e-9, spacing):
            pts.append(a + t * s)
            normals.append(normal)
    return np.array(pts), np.array(normals)


def _inside_t(p) -> bool:
    x, y = p
    return bool((-60 < x < 60 and 0 < y < 30) or (-15 < x < 15 and 30 <= y < 120))


_CONTACTS, _NORMALS = _contacts()


def _rot(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def _wrap(a: float) -> float:
    return float((a + np.pi) % (2 * np.pi) - np.pi)


class ExpertState:
    """What the expert remembers between steps: the contact it is pushing at, and for how long."""

    def __init__(self) -> None:
        self.contact: int | None = None
        self.pushing = 0


def expert_target(
    state, goal, memory: ExpertState | None = None, hold_steps: int = 4, finish: tuple = (8.0, 8.0)
) -> np.ndarray:
    """The pusher's next absolute target (2,) on the table for ``state`` (5,) towards ``goal`` (5,).

    Once the block is within ``finish`` = (px, degrees) of its goal pose, the pusher walks to the
    goal's pusher position (the field's pose criterion counts it); for gym-pusht's coverage task
    give a tighter ``finish`` (coverage > 0.95 needs about 3 px and 2 degrees).
    """
    memory = memory if memory is not None else ExpertState()
    s, g = np.asarray(state, dtype=np.float64), np.asarray(goal, dtype=np.float64)
    pusher, pos, theta = s[:2], s[2:4], s[4]
    rot = _rot(theta)
    cog = pos + rot @ T_COG
    goal_cog = g[2:4] + _rot(g[4]) @ T_COG
    dp, dth = goal_cog - cog, _wrap(g[4] - theta)
    want = np.array([dp[0], dp[1], LEVER * dth])
    if np.linalg.norm(g[2:4] - pos) < finish[0] and abs(dth) < np.radians(finish[1]):
        # the block is in place: bring the pusher to the goal's pusher position, around the T
        memory.contact, memory.pushing = None, 0
        if not _path_blocked(pusher, g[:2], pos, theta):
            return g[:2].copy()
        return _around(pusher, g[:2], cog)
    contacts = pos + _CONTACTS @ rot.T
    normals = _NORMALS @ rot.T
    push = -normals  # pushing into the surface
    r = contacts - cog
    torque = r[:, 0] * push[:, 1] - r[:, 1] * push[:, 0]
    gen = np.concatenate([push, (torque / 60.0)[:, None]], axis=1)
    score = gen @ want / (np.linalg.norm(gen, axis=1) * (np.linalg.norm(want) + 1e-9))
    if memory.contact is None or memory.pushing >= hold_steps or score[memory.contact] < 0.2:
        memory.contact, memory.pushing = int(np.argmax(score)), 0
    c, n = contacts[memory.contact], normals[memory.contact]
    approach = c + n * (PUSHER_RADIUS + 6.0)
    if np.linalg.norm(pusher - approach) < 8.0 or memory.pushing > 0:
        memory.pushing += 1
        a, b, lo, hi = DEPTH
        depth = float(np.clip(a * np.linalg.norm(dp) + b * abs(dth), lo, hi))
        return c - n * depth
    if not _path_blocked(pusher, approach, pos, theta):
        return approach
    return _around(pusher, approach, cog)


def _around(pusher, destination, cog) -> np.ndarray:
    """The next target walking round the T on a safe circle, towards ``destination``'s side."""
    here = np.arctan2(*(pusher - cog)[::-1])
    there = np.arctan2(*(destination - cog)[::-1])
    step = float(np.clip(_wrap(there - here), -0.6, 0.6))
    if abs(step) < 0.05:
        step = 0.3  # on the right side but still blocked: keep going round
    radius = max(SAFE_RADIUS, float(np.linalg.norm(pusher - cog)))
    return cog + radius * np.array([np.cos(here + step), np.sin(here + step)])


def _distance_to_t(points_local: np.ndarray) -> np.ndarray:
    """Distance (N,) from points in the T's body frame to the T (0 inside)."""

    def to_rect(lo, hi):
        d = np.maximum(np.maximum(lo - points_local, points_local - hi), 0.0)
        return np.linalg.norm(d, axis=-1)

    return np.minimum(
        to_rect(np.array([-60.0, 0.0]), np.array([60.0, 30.0])),
        to_rect(np.array([-15.0, 30.0]), np.array([15.0, 120.0])),
    )


def _path_blocked(a, b, pos, theta) -> bool:
    """Whether the pusher, moving straight from ``a`` to ``b``, would touch the T on the way
    (the last few px, where it arrives at its contact, do not count)."""
    length = float(np.linalg.norm(b - a))
    if length < 1e-6:
        return False
    ts = np.linspace(0.0, max(0.0, 1.0 - 8.0 / length), 24)
    points = a + ts[:, None] * (b - a)
    local = (points - pos) @ _rot(theta)  # world -> body frame (inverse rotation)
    return bool((_distance_to_t(local) < PUSHER_RADIUS + 2.0).any())


def relative_action(pusher, target) -> np.ndarray:
    """The relative action (2,) float32 in [-1, 1]^2 that moves the pusher's target to ``target``."""
    return np.clip((np.asarray(target) - np.asarray(pusher)) / ACTION_SCALE, -1.0, 1.0).astype(np.float32)


class ExpertPolicy:
    """The scripted expert on frames: ``policy(obs) -> action (2,)`` with ``obs`` a frame, or a
    goal observation ``{"observation": frame, "desired_goal": goal_image}``; the goal state is
    read from the goal image. ``noise`` adds Gaussian action noise (std, in action units)."""

    def __init__(self, goal_state=None, noise: float = 0.0, seed: int = 0, finish: tuple = (8.0, 8.0)) -> None:
        self.goal_state = None if goal_state is None else np.asarray(goal_state, dtype=np.float64)
        self.noise, self.finish = float(noise), finish
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
        self.memory = ExpertState()
        self.rng = np.random.default_rng(seed)
        self._goal_read = None

    def __call__(self, obs) -> np.ndarray:
        frame = obs["observation"] if isinstance(obs, dict) else obs
        goal = self.goal_state
        if goal is None:
            if self._goal_read is None:
                self._goal_read = read_state(np.asarray(obs["desired_goal"]))
            goal = self._goal_read
        state = read_state(np.asarray(frame))
        if not np.isfinite(state).all():
            return self.rng.uniform(-0.3, 0.3, 2).astype(np.float32)
        a = relative_action(state[:2], expert_target(state, goal, self.memory, finish=self.finish))
        if self.noise:
            a = np.clip(a + self.rng.normal(0.0, self.noise, 2), -1.0, 1.0).astype(np.float32)
        return a


__all__ = ["ExpertPolicy", "ExpertState", "expert_target", "relative_action"]
