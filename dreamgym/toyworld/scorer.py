"""A frame-only scorer for the toy world (the planners' scorer protocol).

:class:`KeypointScorer` locates the pusher and the block by colour (the same locator the
fidelity benchmark uses) in the predicted frames and in the goal image, and scores:

* ``reach``: minus the pusher's distance to its goal position;
* ``push``: minus (the block's distance to its goal + ``approach`` times the pusher's
  distance to the contact point behind the block, opposite the goal direction): the shaped
  cost that makes pushing reachable for a short-horizon planner.

Distances are averaged over time (``weighting``: ``"linear"``, later frames weigh more, the
default; ``"uniform"``; ``"last"``). It sees only frames and the goal image, never the
simulator state. A rollout in which an object cannot be found in a frame that counts (it
left the table, or the model smeared it away) scores ``-inf``, explicitly the planners'
worst (not NaN): a plan that loses the block is never preferred.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.scoring import WORST_SCORE, time_weights, weighting_in_words
from engine.validation import as_real

from . import physics as tw
from . import rendering

WEIGHTINGS = ("linear", "uniform", "last")


class KeypointScorer:
    """Minus the task distance (pixels) of the toy world's objects located in the frames."""

    def __init__(self, goal_image, task: str = "push", approach: float = 0.5, weighting: str = "linear"):
        if task not in ("push", "reach"):
            raise ValueError(f"task must be 'push' or 'reach', got {task!r}")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
        approach = as_real(approach, "approach")
        goal = rendering.locate(np.asarray(goal_image))
        if not np.isfinite(goal).all():
            raise ValueError("the goal image does not show both the pusher and the block")
        self.goal, self.task, self.approach, self.weighting = goal, task, float(approach), weighting

    @property
    def units(self) -> str:
        """What a score means, in words (pictures and reports print it)."""
        what = (
            "the pusher's distance to its goal"
            if self.task == "reach"
            else f"the block's distance to its goal + {self.approach:g} x the pusher's to the push point"
        )
        return f"minus {what}, px of the 64 x 64 frame, {weighting_in_words(self.weighting)}"

    def __call__(self, frames, actions=None) -> torch.Tensor:
        f = frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
        s = rendering.locate(f)  # (K, T, 4)
        p, b = s[..., :2], s[..., 2:]
        if self.task == "reach":
            d = np.linalg.norm(p - self.goal[:2], axis=-1)
        else:
            to_goal = self.goal[2:] - b
            dist = np.linalg.norm(to_goal, axis=-1)
            u = to_goal / np.maximum(dist, 1e-6)[..., None]
            behind = b - u * (tw.BLOCK_HALF + tw.PUSHER_RADIUS)
            d = dist + self.approach * np.linalg.norm(p - behind, axis=-1) * (dist > 1.0)
        w = time_weights(d.shape[1], self.weighting, torch.float64).numpy()
        used = w > 0
        lost = ~np.isfinite(d[:, used]).all(1)
        score = -(np.where(np.isfinite(d), d, 0.0) * w).sum(1)
        score[lost] = WORST_SCORE
        return torch.from_numpy(score)
