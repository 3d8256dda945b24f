"""The toy world's renderer (64x64, anti-aliased by exact edge coverage) and its inverse: the
colour locator that reads the pusher and block positions off a frame (real or predicted)."""

from __future__ import annotations

import numpy as np

from .physics import BLOCK_HALF, PUSHER_RADIUS, SIZE

BACKGROUND = np.array([235.0, 232.0, 220.0])
BLOCK_COLOR = np.array([40.0, 90.0, 200.0])
PUSHER_COLOR = np.array([220.0, 50.0, 50.0])

_CENTRES = np.arange(SIZE) + 0.5


def render(state: np.ndarray) -> np.ndarray:
    """Frames (N, 64, 64, 3) uint8 of states (N, 4), anti-aliased by exact edge coverage."""
    state = np.atleast_2d(np.asarray(state, dtype=np.float64))
    xs = _CENTRES[None, None, :]
    ys = _CENTRES[None, :, None]
    px, py, bx, by = (state[:, i, None, None] for i in range(4))
    cover_b = np.clip(BLOCK_HALF + 0.5 - np.abs(xs - bx), 0, 1) * np.clip(BLOCK_HALF + 0.5 - np.abs(ys - by), 0, 1)
    dist = np.sqrt((xs - px) ** 2 + (ys - py) ** 2)
    cover_p = np.clip(PUSHER_RADIUS + 0.5 - dist, 0, 1)
    img = BACKGROUND + cover_b[..., None] * (BLOCK_COLOR - BACKGROUND)
    img = img + cover_p[..., None] * (PUSHER_COLOR - img)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


_MIX = np.stack([BLOCK_COLOR - BACKGROUND, PUSHER_COLOR - BACKGROUND], axis=1)  # (3, 2)
_PINV = np.linalg.pinv(_MIX)  # (2, 3)


def coverage(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel block and pusher coverage estimated from colour, each (..., H, W) in [0, 1].

    Solves ``pixel - background = u * (block - background) + c * (pusher - background)`` by
    least squares per pixel, so it works on slightly wrong colours (predicted frames) too.
    """
    f = np.asarray(frames, dtype=np.float64) - BACKGROUND
    uc = f @ _PINV.T
    return np.clip(uc[..., 0], 0, 1), np.clip(uc[..., 1], 0, 1)


def locate(frames: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Estimated states (..., 4) from frames (..., 64, 64, 3): coverage-weighted centroids.

    Returns NaN for an object with no visible coverage.
    """
    cb, cp = coverage(frames)
    out = np.empty((*cb.shape[:-2], 4))
    for j, c in enumerate((cp, cb)):
        w = np.where(c >= threshold, c, 0.0)
        total = w.sum(axis=(-1, -2))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[..., 2 * j] = (w * _CENTRES[None, :]).sum(axis=(-1, -2)) / total
            out[..., 2 * j + 1] = (w * _CENTRES[:, None]).sum(axis=(-1, -2)) / total
    return out
