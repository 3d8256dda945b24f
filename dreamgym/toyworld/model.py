"""The toy world as an exact engine (the engine contract, :class:`engine.WorldModel`).

It reads the start state off the start frame (colour centroids, see
:func:`dreamgym.toyworld.locate`), simulates every candidate exactly and renders the frames,
with the frame and action conventions of the ``push-64`` world model. A planner given this
model plans against ground truth while still seeing only frames; an env or a bulk run given it
steps the real world chunk by chunk.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import RolloutBatch, get_spec
from engine.protocol import BaseEngine, RolloutState, per_row

from . import physics as tw
from . import rendering


@dataclass(kw_only=True)
class ToyWorldState(RolloutState):
    """Where B exact rollouts stand between chunks (seeds are kept, and ignored: the world is
    exact).

    Attributes (besides :class:`~engine.protocol.RolloutState`'s):
        states: (B, 4) float64 ``[pusher_x, pusher_y, block_x, block_y]`` per row.
    """

    states: np.ndarray = per_row()


class ToyWorldModel(BaseEngine):
    """Exact model of the toy world. ``seed`` is accepted and ignored (the world is deterministic)."""

    state_type = ToyWorldState
    runs_in_process = True
    example_frames = None

    def __init__(self, spec_name: str = "push-64") -> None:
        self.spec = get_spec(spec_name)
        if self.spec.resolution != (tw.SIZE, tw.SIZE) or self.spec.action_dim != tw.ACTION_DIM:
            raise ValueError(f"spec {spec_name!r} does not use the toy world's 64x64 frames and 2-D actions")

    def __repr__(self) -> str:
        return f"ToyWorldModel({self.spec.name!r})"

    def weights_sha256(self) -> str:
        """sha256 of the simulator and renderer source: it changes when the world does."""
        h = hashlib.sha256()
        for module in (tw, rendering):
            h.update(Path(module.__file__).read_bytes())
        return h.hexdigest()

    def state_of(self, frame: np.ndarray) -> np.ndarray:
        """The (4,) state shown in ``frame``; ValueError when an object is not visible."""
        state = rendering.locate(frame)
        if not np.isfinite(state).all():
            raise ValueError("the start frame does not show both the pusher and the block")
        return state

    def _rollouts(self, states: np.ndarray, acts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact trajectories (K, T, 4) and frames (K, T, 64, 64, 3) uint8 of (K, T, 2) actions."""
        k, t, _ = acts.shape
        traj = tw.simulate(states, acts.astype(np.float64))
        return traj, rendering.render(traj.reshape(-1, 4)).reshape(k, t, tw.SIZE, tw.SIZE, 3)

    def _predict(self, frame, acts, seeds, num_steps, guidance) -> RolloutBatch:
        t0 = time.perf_counter()
        k = acts.shape[0]
        _, frames = self._rollouts(np.repeat(self.state_of(frame)[None], k, 0), acts)
        wall = time.perf_counter() - t0
        return RolloutBatch(
            frames, frame, acts, seeds, spec_name="toy-world", num_steps=0, guidance=0.0, fps=self.spec.fps, wall_s=wall
        )

    def _start(self, frames, seeds, num_steps, guidance) -> ToyWorldState:
        states = np.stack([self.state_of(f) for f in frames])
        return ToyWorldState.first(frames, seeds, num_steps, guidance, states=states)

    def _step(self, state: ToyWorldState, acts, peek: bool):
        traj, frames = self._rollouts(state.states, acts)
        if peek:
            return frames, state
        return frames, state.advanced(frames, states=traj[:, -1].copy())
