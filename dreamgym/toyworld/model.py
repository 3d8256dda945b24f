"""The toy world as an exact RolloutModel (``spec`` + ``predict_batch``).

It reads the start state off the start frame (colour centroids, see
:func:`dreamgym.toyworld.locate`), simulates every candidate exactly and renders the frames,
with the frame and action conventions of the ``push-64`` world model. A planner given this
model plans against ground truth while still seeing only frames.
"""

from __future__ import annotations

import time
import uuid

import numpy as np

from engine import Rollout, RolloutBatch, as_actions, as_frame, as_seed, get_spec

from . import physics as tw
from . import rendering


class ToyWorldModel:
    """Exact model of the toy world. ``seed`` is accepted and ignored (the world is deterministic)."""

    def __init__(self, spec_name: str = "push-64") -> None:
        self.spec = get_spec(spec_name)
        if self.spec.resolution != (tw.SIZE, tw.SIZE) or self.spec.action_dim != tw.ACTION_DIM:
            raise ValueError(f"spec {spec_name!r} does not use the toy world's 64x64 frames and 2-D actions")

    def state_of(self, frame: np.ndarray) -> np.ndarray:
        """The (4,) state shown in ``frame``; ValueError when an object is not visible."""
        state = rendering.locate(frame)
        if not np.isfinite(state).all():
            raise ValueError("the start frame does not show both the pusher and the block")
        return state

    def predict_batch(self, start_frame, actions, seed=0, num_steps=None, guidance=None) -> RolloutBatch:
        """start_frame (64, 64, 3) uint8, actions (K, T, 2) -> K exact rollouts."""
        t0 = time.perf_counter()
        frame = as_frame(start_frame, self.spec)
        acts = as_actions(actions, self.spec, batched=True)
        seed = as_seed(seed) if not isinstance(seed, list | tuple) else 0
        state = self.state_of(frame)
        k, t, _ = acts.shape
        traj = tw.simulate(np.repeat(state[None], k, 0), acts.astype(np.float64))
        frames = rendering.render(traj.reshape(-1, 4)).reshape(k, t, tw.SIZE, tw.SIZE, 3)
        wall = time.perf_counter() - t0
        rollouts = [
            Rollout(
                frames=frames[i],
                start_frame=frame,
                actions=acts[i],
                seed=seed,
                spec_name="toy-world",
                request_id=uuid.uuid4().hex,
                num_steps=0,
                guidance=0.0,
                fps=self.spec.fps,
                engine_wall_ms=1000 * wall / k,
            )
            for i in range(k)
        ]
        return RolloutBatch.from_rollouts(rollouts, wall_s=wall)

    def predict(self, start_frame, actions, seed=0, num_steps=None, guidance=None) -> Rollout:
        return self.predict_batch(start_frame, np.asarray(actions)[None], seed)[0]
