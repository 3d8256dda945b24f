"""The toy world's simulator: a 2-D tabletop seen from above, simulated exactly.

A round pusher (radius 4 px) moves with the action, a 2-D velocity in [-1, 1] scaled to at
most 2 px per frame. A square block (half-size 5 px) moves when the pusher touches it: the
block is pushed out along the contact normal by the overlap. Walls keep both inside the
table; a block against a wall stops and the pusher is pushed back out of it. Everything is
vectorised over N worlds with numpy, and deterministic.

State: ``(N, 4)`` float64 rows ``[pusher_x, pusher_y, block_x, block_y]`` in pixels (x to
the right, y down, pixel centres at i + 0.5).
"""

from __future__ import annotations

import numpy as np

SIZE = 64
PUSHER_RADIUS = 4.0
BLOCK_HALF = 5.0
SPEED = 2.0  # pixels per frame at |action| = 1
ACTION_DIM = 2


def _resolve_contact(p: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Push blocks out of pushers along the contact normal; keep both within the walls."""
    d = p - b
    closest = np.clip(d, -BLOCK_HALF, BLOCK_HALF)
    delta = d - closest
    dist = np.linalg.norm(delta, axis=-1, keepdims=True)
    inside = dist[:, 0] < 1e-9
    if inside.any():  # pusher centre inside the box (only from bad input): push along the shorter axis
        pen = BLOCK_HALF - np.abs(d[inside])
        axis = np.argmin(pen, axis=-1)
        normal = np.zeros_like(d[inside])
        normal[np.arange(len(axis)), axis] = np.sign(d[inside][np.arange(len(axis)), axis]) + (
            d[inside][np.arange(len(axis)), axis] == 0
        )
        delta[inside] = normal * 1e-6
        dist[inside] = 1e-6
    normal = delta / np.maximum(dist, 1e-12)
    overlap = np.clip(PUSHER_RADIUS - dist, 0.0, None)
    b = np.clip(b - normal * overlap, BLOCK_HALF, SIZE - BLOCK_HALF)
    # the block may have stopped at a wall: move the pusher back out of it
    d = p - b
    closest = np.clip(d, -BLOCK_HALF, BLOCK_HALF)
    delta = d - closest
    dist = np.linalg.norm(delta, axis=-1, keepdims=True)
    normal = delta / np.maximum(dist, 1e-12)
    overlap = np.clip(PUSHER_RADIUS - dist, 0.0, None)
    p = np.clip(p + normal * overlap, PUSHER_RADIUS, SIZE - PUSHER_RADIUS)
    return p, b


def step_state(state: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Advance ``state`` (N, 4) by one frame under ``actions`` (N, 2) in [-1, 1]."""
    state = np.asarray(state, dtype=np.float64)
    a = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
    p = np.clip(state[:, :2] + SPEED * a, PUSHER_RADIUS, SIZE - PUSHER_RADIUS)
    p, b = _resolve_contact(p, state[:, 2:].copy())
    return np.concatenate([p, b], axis=-1)


def simulate(state: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """States after each action: state (N, 4), actions (N, T, 2) -> (N, T, 4)."""
    out = np.empty((actions.shape[0], actions.shape[1], 4))
    s = np.asarray(state, dtype=np.float64)
    for t in range(actions.shape[1]):
        s = step_state(s, actions[:, t])
        out[:, t] = s
    return out


def random_states(rng: np.random.Generator, n: int, min_gap: float = 2.0) -> np.ndarray:
    """``n`` random non-touching states (N, 4) drawn from ``rng``."""
    out = np.empty((n, 4))
    filled = 0
    while filled < n:
        m = 2 * (n - filled) + 8
        p = rng.uniform(PUSHER_RADIUS, SIZE - PUSHER_RADIUS, (m, 2))
        b = rng.uniform(BLOCK_HALF + 1, SIZE - BLOCK_HALF - 1, (m, 2))
        d = np.abs(p - b) - BLOCK_HALF
        gap = np.linalg.norm(np.clip(d, 0, None), axis=-1)
        ok = gap > PUSHER_RADIUS + min_gap
        good = np.concatenate([p[ok], b[ok]], axis=-1)[: n - filled]
        out[filled : filled + len(good)] = good
        filled += len(good)
    return out
