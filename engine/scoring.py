"""The scorer contract, below the planners, the envs and the worlds, which all score frames.

A scorer is ``scorer(frames (K, T, H, W, 3) uint8, actions (K, T, A)) -> scores (K,)``, higher
is better (:class:`Scorer`). Here: the pixel conventions (:func:`as_video_tensor`), time
weights (:func:`time_weights`), the one NaN policy (:func:`nan_to_worst` for planners,
:func:`as_rewards` for envs), :class:`GoalDistance`, the pixel goal distance that planners
(``planners.scorers`` re-exports it) and worlds' task scorers both use, and
:class:`LatentGoalDistance`, which reads latents instead of frames (a scorer's ``reads``
attribute says which: ``"frames"`` when absent, or ``"latents"``).
"""

from __future__ import annotations

import warnings
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from .metrics import blur, ssim

WORST_SCORE = float("-inf")  # what a NaN score becomes: never preferred
WORST_REWARD = -1e9  # what a non-finite score becomes as an env reward (finite, for RL)


@runtime_checkable
class Scorer(Protocol):
    """``scorer(frames (K, T, H, W, 3) uint8, actions (K, T, A) float32) -> (K,)`` scores,
    higher is better, NaN mapped to the worst (:func:`nan_to_worst`)."""

    def __call__(self, frames, actions) -> torch.Tensor: ...


def _unit_range(x: torch.Tensor, name: str) -> torch.Tensor:
    """Pixels as float32 in [0, 1]: any integer dtype is read as 0..255 (checked), a float dtype
    must already lie in [0, 1] (a float image in 0..255 is refused, not silently mis-scaled)."""
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{name} must hold pixel values (uint8 0..255 or float 0..1), got dtype {x.dtype}")
    if not x.is_floating_point():
        lo, hi = (int(x.min()), int(x.max())) if x.numel() else (0, 0)
        if lo < 0 or hi > 255:
            raise ValueError(f"{name} is integer ({x.dtype}) so must lie in 0..255, got values in [{lo}, {hi}]")
        return x.float() / 255.0
    x = x.float()
    if x.numel() and not torch.isfinite(x).all():
        raise ValueError(f"{name} must be finite; found NaN or inf")
    lo, hi = (float(x.min()), float(x.max())) if x.numel() else (0.0, 0.0)
    if lo < 0 or hi > 1:
        raise ValueError(
            f"{name} is float ({x.dtype}) so must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]; "
            "divide 0..255 images by 255 or pass uint8"
        )
    return x


def as_video_tensor(frames, name: str = "frames") -> torch.Tensor:
    """(K, T, H, W, 3) pixels (uint8 0..255 or float 0..1; numpy or torch) -> (K, T, 3, H, W)
    float32 in [0, 1]."""
    x = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(frames))
    if x.ndim != 5 or x.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (K, T, H, W, 3), got {tuple(x.shape)}")
    return _unit_range(x, name).permute(0, 1, 4, 2, 3)


def image_tensor(image, name: str = "goal_image") -> torch.Tensor:
    x = image if isinstance(image, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(np.asarray(image)))
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"{name} must be an (H, W, 3) image, got shape {tuple(x.shape)}")
    return _unit_range(x, name).permute(2, 0, 1)


def nan_to_worst(scores: torch.Tensor) -> torch.Tensor:
    """The one NaN policy for scores: NaN becomes :data:`WORST_SCORE` (-inf), so a candidate
    whose score cannot be computed is never preferred (planners rank with it)."""
    return torch.where(torch.isnan(scores), torch.full_like(scores, WORST_SCORE), scores)


def as_rewards(scores, count: int) -> np.ndarray:
    """Env rewards (count,) float64 from a scorer's output: the same policy as
    :func:`nan_to_worst`, with the worst made finite (:data:`WORST_REWARD`, since RL code cannot
    learn from -inf) and a ``RuntimeWarning`` when it happens."""
    r = scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else scores
    r = np.asarray(r, dtype=np.float64).reshape(-1)
    if r.shape != (count,):
        raise ValueError(f"scorer must return one score per row ({count}), got shape {r.shape}")
    bad = ~np.isfinite(r)
    if bad.any():
        warnings.warn(
            f"the scorer returned {int(bad.sum())} non-finite score(s) ({r[bad][:4].tolist()}); "
            f"they become the worst reward, {WORST_REWARD:g}",
            RuntimeWarning,
            stacklevel=3,
        )
    return np.where(bad, WORST_REWARD, r)


def weighting_in_words(weighting) -> str:
    """How a scorer's ``weighting`` combines the frames, in words."""
    if isinstance(weighting, str):
        return {"last": "on the last frame", "uniform": "averaged over the frames"}.get(
            weighting, "averaged over the frames with weights rising to the last"
        )
    return "averaged over the frames with the given weights"


def time_weights(t: int, weighting: str | np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(T,) weights summing to 1, of ``dtype``: ``"last"``, ``"uniform"``, ``"linear"`` (later
    frames weigh more) or an explicit array."""
    if isinstance(weighting, str):
        if weighting == "last":
            w = torch.zeros(t, dtype=dtype)
            w[-1] = 1.0
        elif weighting == "uniform":
            w = torch.ones(t, dtype=dtype)
        elif weighting == "linear":
            w = torch.arange(1, t + 1, dtype=dtype)
        else:
            raise ValueError(f"weighting must be 'last', 'uniform', 'linear' or an array, got {weighting!r}")
    else:
        w = torch.as_tensor(np.asarray(weighting, dtype=np.float64), dtype=dtype)
        if w.shape != (t,) or not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError(
                f"time weights must be {t} finite non-negative numbers with a positive sum, "
                f"got {np.asarray(weighting)!r}"
            )
    return w / w.sum()


class GoalDistance:
    """Minus a distance between predicted frames and a goal image.

    Args:
        goal_image: (H, W, 3) uint8.
        metric: ``"l2"`` (mean squared error in [0, 1] units), ``"ssim"`` (1 - SSIM) or
            ``"l2+ssim"`` (their sum).
        weighting: ``"last"`` (default), ``"uniform"``, ``"linear"`` or (T,) weights.
        blur_sigma: Gaussian blur (pixels) applied to frames and goal before comparing.
    """

    def __init__(self, goal_image, *, metric: str = "l2", weighting="last", blur_sigma: float = 0.0):
        if metric not in ("l2", "ssim", "l2+ssim"):
            raise ValueError(f"metric must be 'l2', 'ssim' or 'l2+ssim', got {metric!r}")
        if isinstance(weighting, str) and weighting not in ("last", "uniform", "linear"):
            raise ValueError(f"weighting must be 'last', 'uniform', 'linear' or an array, got {weighting!r}")
        if not isinstance(weighting, str):
            w = np.asarray(weighting, dtype=np.float64)
            if w.ndim != 1 or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise ValueError(f"weighting array must be finite non-negative numbers with a positive sum, got {w!r}")
        if isinstance(blur_sigma, bool) or not isinstance(blur_sigma, int | float) or not 0 <= blur_sigma < 1e4:
            raise ValueError(f"blur_sigma must be a finite number >= 0 (pixels), got {blur_sigma!r}")
        self.goal = image_tensor(goal_image)
        self.metric, self.weighting, self.blur_sigma = metric, weighting, float(blur_sigma)
        self._goal_b = blur(self.goal[None], self.blur_sigma)

    def with_goal(self, goal_image) -> GoalDistance:
        """The same scorer for another goal image (what goal-conditioned envs call at reset)."""
        return GoalDistance(goal_image, metric=self.metric, weighting=self.weighting, blur_sigma=self.blur_sigma)

    def __call__(self, frames, actions=None) -> torch.Tensor:
        x = as_video_tensor(frames)
        k, t = x.shape[:2]
        if x.shape[-2:] != self.goal.shape[-2:]:
            raise ValueError(f"frames are {tuple(x.shape[-2:])}, the goal image is {tuple(self.goal.shape[-2:])}")
        w = time_weights(t, self.weighting)
        used = torch.nonzero(w).flatten()
        xs = blur(x[:, used].flatten(0, 1), self.blur_sigma)
        g = self._goal_b.expand(len(xs), -1, -1, -1)
        d = torch.zeros(len(xs))
        if "l2" in self.metric:
            d = d + ((xs - g) ** 2).mean(dim=(1, 2, 3))
        if "ssim" in self.metric:
            d = d + (1 - ssim(xs, g))
        d = d.view(k, len(used))
        return nan_to_worst(-(d * w[used]).sum(1))


class LatentGoalDistance:
    """Minus the mean squared distance between the last predicted latent frame and the goal
    image's latent: the "latent prediction error" scorer of visual MPC, which needs no decoding
    (``reads = "latents"``: planners call the model's ``predict_latents``, so the last chunk of
    every candidate is never decoded).

    Build it with :meth:`for_model` (it encodes the goal image held still for a chunk with the
    model's VAE and keeps the last latent frame). Called as
    ``scorer(latents (K, C, F, h, w), actions)``.
    """

    reads = "latents"

    def __init__(self, goal_latent, *, blur_sigma: float = 0.0) -> None:
        z = torch.as_tensor(goal_latent, dtype=torch.float32)
        if z.ndim != 5 or z.shape[0] != 1 or z.shape[2] != 1 or not torch.isfinite(z).all():
            raise ValueError(f"goal_latent must be a finite (1, C, 1, h, w) latent, got shape {tuple(z.shape)}")
        if isinstance(blur_sigma, bool) or not isinstance(blur_sigma, int | float) or not 0 <= blur_sigma < 1e3:
            raise ValueError(f"blur_sigma must be a finite number >= 0 (latent pixels), got {blur_sigma!r}")
        self.goal_latent, self.blur_sigma = z, float(blur_sigma)
        self._goal_b = blur(z[:, :, 0], self.blur_sigma)

    @classmethod
    def for_model(cls, model, goal_image, *, blur_sigma: float = 0.0) -> LatentGoalDistance:
        """The scorer of ``goal_image`` (H, W, 3) uint8 in ``model``'s latent space (a model
        with ``encode``, e.g. :class:`engine.Engine`); ``blur_sigma`` blurs both latent maps
        (in latent pixels) before comparing, as :class:`GoalDistance` does with pixels. Blur
        when the goal is further than an object's width: unblurred, a candidate that moves a
        small object part of the way scores no better than one that stays put (push-64's reach
        episodes, docs/planning.md: 3 latent pixels gives distances that fall steadily
        toward the goal; 0 gave no reach episode in 27)."""
        if not callable(getattr(model, "encode_still", None)):
            raise TypeError(
                "a latent scorer needs a model with encode_still(frames) (a local engine.Engine), "
                f"got {type(model).__name__}"
            )
        from .validation import as_frame

        # the goal held still for a chunk, its last latent frame: the same kind of latent as a
        # chunk's last one (frame 0 of a clip is encoded alone and looks different)
        still = model.encode_still(as_frame(goal_image, model.spec)[None])
        return cls(still[:, :, -1:], blur_sigma=blur_sigma)

    def __call__(self, latents, actions=None) -> torch.Tensor:
        z = torch.as_tensor(latents, dtype=torch.float32)
        if z.ndim != 5 or z.shape[1] != self.goal_latent.shape[1] or z.shape[-2:] != self.goal_latent.shape[-2:]:
            raise ValueError(
                f"latents must be (K, {self.goal_latent.shape[1]}, F, {self.goal_latent.shape[3]}, "
                f"{self.goal_latent.shape[4]}), got {tuple(z.shape)}"
            )
        last = blur(z[:, :, -1], self.blur_sigma)
        d = ((last - self._goal_b) ** 2).mean(dim=(1, 2, 3))
        return nan_to_worst(-d)


__all__ = [
    "WORST_REWARD",
    "WORST_SCORE",
    "GoalDistance",
    "LatentGoalDistance",
    "Scorer",
    "as_rewards",
    "as_video_tensor",
    "image_tensor",
    "nan_to_worst",
    "time_weights",
]
