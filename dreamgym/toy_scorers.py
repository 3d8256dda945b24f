"""A frame-only scorer for the toy world (the planners' scorer protocol).

:class:`KeypointScorer` locates the pusher and the block by colour (the same locator the
fidelity benchmark uses) in the predicted frames and in the goal image, and scores:

* ``reach``: minus the pusher's distance to its goal position;
* ``push``: minus (the block's distance to its goal + ``approach`` times the pusher's
  distance to the contact point behind the block, opposite the goal direction): the shaped
  cost that makes pushing reachable for a short-horizon planner.

Distances are averaged over time with linear weights (later frames weigh more). It sees only
frames and the goal image, never the simulator state. A frame in which an object cannot
be found scores NaN (the planners' worst).
"""

from __future__ import annotations

import numpy as np
import torch

from . import toyworld as tw


class KeypointScorer:
    def __init__(self, goal_image, task: str = "push", approach: float = 0.5, weighting: str = "linear"):
        if task not in ("push", "reach"):
            raise ValueError(f"task must be 'push' or 'reach', got {task!r}")
        goal = tw.locate(np.asarray(goal_image))
        if not np.isfinite(goal).all():
            raise ValueError("the goal image does not show both the pusher and the block")
        self.goal, self.task, self.approach, self.weighting = goal, task, float(approach), weighting

    def __call__(self, frames, actions=None) -> torch.Tensor:
        f = frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
        s = tw.locate(f)  # (K, T, 4)
        p, b = s[..., :2], s[..., 2:]
        if self.task == "reach":
            d = np.linalg.norm(p - self.goal[:2], axis=-1)
        else:
            to_goal = self.goal[2:] - b
            dist = np.linalg.norm(to_goal, axis=-1)
            u = to_goal / np.maximum(dist, 1e-6)[..., None]
            behind = b - u * (tw.BLOCK_HALF + tw.PUSHER_RADIUS)
            d = dist + self.approach * np.linalg.norm(p - behind, axis=-1) * (dist > 1.0)
        t = d.shape[1]
        w = np.arange(1, t + 1, dtype=np.float64) if self.weighting == "linear" else np.eye(t)[-1]
        return torch.from_numpy(-(d * w).sum(1) / w.sum())
