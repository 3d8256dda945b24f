"""Results of the engine: :class:`Rollout` (one video) and :class:`RolloutBatch` (K of them)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .files import atomic_write_bytes
from .video import encode_mp4


@dataclass
class Rollout:
    """One predicted video.

    Attributes:
        frames: (T, H, W, 3) uint8, the T predicted frames (the start frame excluded).
        start_frame: (H, W, 3) uint8.
        actions: (T, A) float32, the actions as used (after clipping, if the spec clips).
        seed, spec_name, request_id, num_steps, guidance, fps: what produced it.
        engine_wall_ms: engine time for this rollout (a batch's time divided by K).
    """

    frames: np.ndarray
    start_frame: np.ndarray
    actions: np.ndarray
    seed: int
    spec_name: str
    request_id: str
    num_steps: int
    guidance: float
    fps: int
    engine_wall_ms: float = 0.0
    timings: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def video(self) -> np.ndarray:
        """(T + 1, H, W, 3) uint8: the start frame followed by the predictions."""
        return np.concatenate([self.start_frame[None], self.frames])

    def mp4_bytes(self) -> bytes:
        """The video (start frame + T predictions) as h.264 baseline mp4 bytes."""
        return encode_mp4(self.video, self.fps)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the mp4 to ``path`` atomically; returns the path."""
        return atomic_write_bytes(path, self.mp4_bytes())


@dataclass
class RolloutBatch(Sequence):
    """K rollouts from one start frame. ``batch[k]`` is a :class:`Rollout`."""

    rollouts: list[Rollout]
    wall_s: float
    timings: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rollouts)

    def __getitem__(self, k):
        return self.rollouts[k]

    @property
    def frames(self) -> np.ndarray:
        """(K, T, H, W, 3) uint8."""
        return np.stack([r.frames for r in self.rollouts])

    @property
    def actions(self) -> np.ndarray:
        """(K, T, A) float32."""
        return np.stack([r.actions for r in self.rollouts])
