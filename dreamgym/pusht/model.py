"""PushT as an exact engine (the engine contract, :class:`engine.WorldModel`) over gym-pusht.

Each rollout continues exactly from where its start frame came from: the frame is looked up in
the :data:`~dreamgym.pusht.history.FRAMES` index (every frame a :class:`PushTEnv` or this model
produced in this process), the episode is replayed from its anchor, then the candidate's
actions run and are rendered with the world's frame convention. A planner given this model
plans against ground truth while seeing only frames: its success is the ceiling for a learned
model of PushT. A frame the index does not know (an image from elsewhere) is refused.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

from engine import RolloutBatch, get_spec
from engine.protocol import BaseEngine, RolloutState, per_row

from . import sim as sim_module
from .history import FRAMES, Origin
from .sim import SIZE, PushTSim


@dataclass(kw_only=True)
class PushTState(RolloutState):
    """Where B exact PushT rollouts stand between chunks (seeds are kept, and ignored).

    Attributes (besides :class:`~engine.protocol.RolloutState`'s):
        anchors: (B, 5) float64, the state each row's episode was reset to.
        histories: per row, the (n, 2) float64 actions run since its anchor.
    """

    anchors: np.ndarray = per_row()
    histories: list[np.ndarray] = per_row()


class PushTModel(BaseEngine):
    """Exact model of the PushT world, with the conventions of the spec ``spec_name`` (64x64
    frames, 2-D relative actions in [-1, 1], chunks of ``chunk_size``)."""

    state_type = PushTState
    runs_in_process = True
    example_frames = None

    def __init__(self, spec_name: str = "push-64") -> None:
        self.spec = get_spec(spec_name)
        if self.spec.resolution != (SIZE, SIZE) or self.spec.action_dim != 2:
            raise ValueError(f"spec {spec_name!r} does not use the PushT world's 64x64 frames and 2-D actions")
        if (self.spec.action_low, self.spec.action_high) != (-1.0, 1.0):
            raise ValueError(f"spec {spec_name!r} must bound actions to [-1, 1] (relative moves of up to 100 px)")
        self._sim = PushTSim(SIZE)
        self._lock = threading.Lock()  # one simulator, one rollout at a time

    def __repr__(self) -> str:
        return f"PushTModel({self.spec.name!r})"

    def weights_sha256(self) -> str:
        """sha256 of gym-pusht's version and our simulator conventions: it changes with the world."""
        h = hashlib.sha256(("gym-pusht " + version("gym-pusht")).encode())
        h.update(Path(sim_module.__file__).read_bytes())
        return h.hexdigest()

    def origin(self, frame: np.ndarray) -> Origin:
        """How ``frame`` was reached (anchor + actions); ValueError for a frame never produced here."""
        found = FRAMES.origin(frame)
        if found is None:
            raise ValueError(
                "the exact PushT model continues only from frames that a PushTEnv or this model produced in "
                "this process; this start frame is not one of them"
            )
        return found

    def _continue(self, anchor: np.ndarray, history: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Frames (T, 64, 64, 3) of ``actions`` (T, 2) after replaying ``history`` from ``anchor``;
        each is recorded in the frame index, so a later call can continue from it."""
        out = np.empty((len(actions), SIZE, SIZE, 3), np.uint8)
        with self._lock:
            self._sim.reset_to(anchor)
            for a in history:
                self._sim.step(a)
            for t, a in enumerate(actions.astype(np.float64)):
                self._sim.step(a)
                out[t] = self._sim.frame()
        for t in range(len(actions)):
            FRAMES.record(out[t], anchor, np.concatenate([history, actions[: t + 1].astype(np.float64)]))
        return out

    def _predict(self, frame, acts, seeds, num_steps, guidance) -> RolloutBatch:
        t0 = time.perf_counter()
        o = self.origin(frame)
        frames = np.stack([self._continue(o.anchor, o.actions, a) for a in acts])
        wall = time.perf_counter() - t0
        return RolloutBatch(
            frames,
            frame,
            acts,
            seeds,
            spec_name="pusht-exact",
            num_steps=0,
            guidance=0.0,
            fps=self.spec.fps,
            wall_s=wall,
        )

    def _start(self, frames, seeds, num_steps, guidance) -> PushTState:
        origins = [self.origin(f) for f in frames]
        return PushTState.first(
            frames,
            seeds,
            num_steps,
            guidance,
            anchors=np.stack([o.anchor for o in origins]),
            histories=[o.actions for o in origins],
        )

    def _step(self, state: PushTState, acts, peek: bool):
        frames = np.stack(
            [self._continue(a, h, c) for a, h, c in zip(state.anchors, state.histories, acts, strict=True)]
        )
        if peek:
            return frames, state
        histories = [np.concatenate([h, c.astype(np.float64)]) for h, c in zip(state.histories, acts, strict=True)]
        return frames, state.advanced(frames, histories=histories)


__all__ = ["PushTModel", "PushTState"]
