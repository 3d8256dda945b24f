"""Read the PushT state off a frame alone: the pusher's position and the T's position and angle.

The success judges and the policies of the PushT world see only frames, as they must in a world
model. Each 64x64 pixel is unmixed into four colours (background white, goal-zone green, the
T's grey, the pusher's blue: area averaging makes every pixel a mix of what covers it), then:

* the pusher is the centroid of its blue fraction;
* the T's angle is the direction of its major principal axis (its axis of symmetry), signed by
  the third moment along it (the stem side is the long tail);
* the T's position (pymunk's body origin, the top edge of the bar) is its centroid moved back
  along that axis by :data:`CENTROID_OFFSET` px.

Positions come back in gym-pusht's table pixels (512 x 512), the angle in radians. The error on
held-out episode frames is measured by ``tests/test_pusht.py`` and ``docs/pusht.md``. A T partly
hidden (under the pusher, or pushed against a wall) reads worse.
"""

from __future__ import annotations

import numpy as np

from .sim import TABLE

WHITE = (255.0, 255.0, 255.0)
GREEN = (144.0, 238.0, 144.0)  # gym-pusht's goal zone ("LightGreen")
# the T is drawn filled in a lighter shade with a 4 px outline in "LightSlateGray"; the pusher
# as a "RoyalBlue" ring around a lighter disc: one colour each, a blend of the two shades
T_GREY = tuple(0.6 * np.array((143.0, 163.0, 184.0)) + 0.4 * np.array((119.0, 136.0, 153.0)))
PUSHER_BLUE = tuple(0.5 * np.array((78.0, 126.0, 255.0)) + 0.5 * np.array((65.0, 105.0, 225.0)))
CENTROID_OFFSET = 41.0  # px from the body origin to the drawn T's centroid along its axis (fitted)
MIN_FRACTION = 0.15  # pixels with less of a colour than this do not count towards it

_UNMIX = np.linalg.inv(np.vstack([np.array([WHITE, GREEN, T_GREY, PUSHER_BLUE]).T, np.ones(4)]))


def fractions(frames: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) uint8 -> (..., H, W, 4) fractions of white, green, grey (T), blue (pusher)."""
    f = np.asarray(frames, dtype=np.float64)
    x = np.concatenate([f, np.ones((*f.shape[:-1], 1))], axis=-1)
    return np.clip(x @ _UNMIX.T, 0.0, 1.0)


def read_state(frames: np.ndarray) -> np.ndarray:
    """States (..., 5) float64 ``[pusher_x, pusher_y, block_x, block_y, block_angle]`` read from
    frames (..., H, W, 3) uint8; NaN where the pusher or the T cannot be seen."""
    frames = np.asarray(frames)
    if frames.ndim < 3 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (..., H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    lead = frames.shape[:-3]
    flat = frames.reshape(-1, *frames.shape[-3:])
    out = np.array([_read_one(f) for f in flat]).reshape(*lead, 5)
    return out


def _read_one(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    scale_y, scale_x = TABLE / h, TABLE / w
    fr = fractions(frame)
    ys, xs = np.mgrid[0:h, 0:w]
    xs, ys = (xs + 0.5) * scale_x, (ys + 0.5) * scale_y
    out = np.full(5, np.nan)
    wp = np.where(fr[..., 3] > MIN_FRACTION, fr[..., 3], 0.0)
    if wp.sum() > 0:
        out[0], out[1] = (wp * xs).sum() / wp.sum(), (wp * ys).sum() / wp.sum()
    wb = np.where(fr[..., 2] > MIN_FRACTION, fr[..., 2], 0.0)
    wb[0, :] = wb[-1, :] = wb[:, 0] = wb[:, -1] = 0.0  # the walls' grey is not the T
    m = wb.sum()
    if m < 4:
        return out
    cx, cy = (wb * xs).sum() / m, (wb * ys).sum() / m
    dx, dy = xs - cx, ys - cy
    cov = np.array([[(wb * dx * dx).sum(), (wb * dx * dy).sum()], [(wb * dx * dy).sum(), (wb * dy * dy).sum()]]) / m
    axis = np.linalg.eigh(cov)[1][:, 1]  # the major axis: the T's axis of symmetry
    if (wb * (dx * axis[0] + dy * axis[1]) ** 3).sum() < 0:
        axis = -axis  # point it along the stem
    theta = np.arctan2(-axis[0], axis[1])  # pymunk turns the body's +y axis to (-sin, cos)
    out[2], out[3], out[4] = cx + np.sin(theta) * CENTROID_OFFSET, cy - np.cos(theta) * CENTROID_OFFSET, theta
    return out


__all__ = ["CENTROID_OFFSET", "fractions", "read_state"]
