"""Results of the engine: :class:`Rollout` (one video) and :class:`RolloutBatch` (K of them)."""

from __future__ import annotations

import os
import uuid
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


class RolloutBatch(Sequence):
    """K rollouts from one start frame, held as arrays.

    Attributes:
        frames: (K, T, H, W, 3) uint8, every candidate's predicted frames (one array, not a
            stack made on each access).
        actions: (K, T, A) float32.
        seeds: the K seeds; wall_s: the call's wall time; timings: its split.
    ``batch[k]`` is a :class:`Rollout` whose arrays are views into these.
    """

    def __init__(
        self,
        frames: np.ndarray,
        start_frame: np.ndarray,
        actions: np.ndarray,
        seeds: list[int],
        *,
        spec_name: str,
        num_steps: int,
        guidance: float,
        fps: int,
        wall_s: float,
        timings: dict | None = None,
        request_ids: list[str] | None = None,
    ) -> None:
        k = frames.shape[0]
        if actions.shape[0] != k or len(seeds) != k:
            raise ValueError(
                f"RolloutBatch needs K frames, actions and seeds alike, got {k}, {actions.shape[0]}, {len(seeds)}"
            )
        self.frames, self.start_frame, self.actions, self.seeds = frames, start_frame, actions, list(seeds)
        self.spec_name, self.num_steps, self.guidance, self.fps = spec_name, num_steps, guidance, fps
        self.wall_s, self.timings = wall_s, timings or {}
        self.request_ids = request_ids or [uuid.uuid4().hex for _ in range(k)]

    def __len__(self) -> int:
        return self.frames.shape[0]

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(f"candidate index {k} out of range for K = {len(self)}")
        return Rollout(
            frames=self.frames[k],
            start_frame=self.start_frame,
            actions=self.actions[k],
            seed=self.seeds[k],
            spec_name=self.spec_name,
            request_id=self.request_ids[k],
            num_steps=self.num_steps,
            guidance=self.guidance,
            fps=self.fps,
            engine_wall_ms=1000.0 * self.wall_s / len(self),
            timings=self.timings,
        )

    @classmethod
    def from_rollouts(cls, rollouts: Sequence[Rollout], wall_s: float = 0.0, timings: dict | None = None):
        """A batch of K rollouts of one start frame (made by someone other than the engine)."""
        if not rollouts:
            raise ValueError("RolloutBatch.from_rollouts needs at least one rollout")
        r0 = rollouts[0]
        return cls(
            np.stack([r.frames for r in rollouts]),
            r0.start_frame,
            np.stack([r.actions for r in rollouts]),
            [r.seed for r in rollouts],
            spec_name=r0.spec_name,
            num_steps=r0.num_steps,
            guidance=r0.guidance,
            fps=r0.fps,
            wall_s=wall_s,
            timings=timings,
            request_ids=[r.request_id for r in rollouts],
        )

    @property
    def rollouts(self) -> list[Rollout]:
        return [self[k] for k in range(len(self))]
