"""A frame-only planning scorer for PushT (the planners' scorer protocol).

:class:`PoseScorer` reads the state (:func:`~.reader.read_state`) from the frames a planner
asks about and from the goal image, and scores minus the normalised pose error of the field's
criterion: ``pos_error / 20 px + angle_error / 20 degrees`` (the position error one norm over
the pusher and the block, as in :func:`~.env.pose_success`), averaged over the frames that
count (``weighting``: ``"last"``, the default, or ``"linear"``). A frame in which the pusher or
the T cannot be read scores ``-inf`` (the planners' worst).
"""

from __future__ import annotations

import numpy as np
import torch

from engine.scoring import WORST_SCORE, time_weights, weighting_in_words

from .env import ANGLE_TOL_DEG, POS_TOL_PX
from .reader import read_state
from .sim import angle_difference


class PoseScorer:
    """Minus the normalised pose error of the frames against the goal image's state."""

    def __init__(self, goal_image, weighting: str = "last") -> None:
        if weighting not in ("last", "linear", "uniform"):
            raise ValueError(f"weighting must be 'last', 'linear' or 'uniform', got {weighting!r}")
        goal = read_state(np.asarray(goal_image))
        if not np.isfinite(goal).all():
            raise ValueError("the goal image does not show both the pusher and the T")
        self.goal, self.weighting = goal, weighting

    @property
    def units(self) -> str:
        """What a score means, in words (pictures and reports print it)."""
        return (
            f"minus the pose error in tolerances (pusher and T px / {POS_TOL_PX:g} + T degrees / "
            f"{ANGLE_TOL_DEG:g}), {weighting_in_words(self.weighting)}"
        )

    def with_goal(self, goal_image) -> PoseScorer:
        return PoseScorer(goal_image, self.weighting)

    def __call__(self, frames, actions=None) -> torch.Tensor:
        f = frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
        k, t = f.shape[:2]
        w = time_weights(t, self.weighting, torch.float64).numpy()
        used = np.nonzero(w)[0]
        s = read_state(f[:, used])  # (K, U, 5)
        pos = np.linalg.norm(s[..., :4] - self.goal[:4], axis=-1) / POS_TOL_PX
        ang = np.degrees(angle_difference(s[..., 4], self.goal[4])) / ANGLE_TOL_DEG
        err = pos + ang
        score = -(np.where(np.isfinite(err), err, 0.0) * w[used]).sum(1)
        score[~np.isfinite(err).all(1)] = WORST_SCORE
        return torch.from_numpy(score)


__all__ = ["PoseScorer"]
