"""Scorers: ``scorer(frames (K, T, H, W, 3) uint8, actions (K, T, A)) -> scores (K,)``.

Higher is better, computed batched on tensors; a NaN score is mapped to ``-inf`` (the
worst) by every scorer here and again by the planners (:func:`engine.scoring.nan_to_worst`,
the one NaN policy). The scorer contract and :class:`GoalDistance` live in
:mod:`engine.scoring`, below both the planners and the worlds, which use them too.

* :class:`GoalDistance` — pixel L2 and/or SSIM against a goal image, on the last frame or
  time-weighted over the rollout; an optional Gaussian blur widens the basin of attraction
  when objects are small.
* :class:`DinoLatent` — distance between DINOv2 patch features (``transformers``) of the
  predicted frames and of the goal; weights come from a local directory only.
* :class:`RewardModel` — any ``torch.nn.Module`` mapping frames (and optionally actions) to
  rewards.
* :class:`Weighted` — a weighted sum of scorers.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.scoring import GoalDistance, as_video_tensor, image_tensor, nan_to_worst, time_weights
from engine.validation import as_real


class DinoLatent:
    """Minus the mean squared distance between DINOv2 patch features of predicted frames and
    of the goal image.

    Args:
        goal_image: (H, W, 3) uint8.
        model_dir: a local directory holding a ``transformers`` Dinov2 checkpoint
            (``config.json`` + weights). Nothing is downloaded.
        model: alternatively, a ready ``transformers.Dinov2Model`` (e.g. randomly initialised).
        weighting: as in :class:`GoalDistance`.
        image_size: frames are resized to this (default: the model's ``config.image_size``).
        batch_size: frames per forward pass.
    """

    MEAN = (0.485, 0.456, 0.406)
    STD = (0.229, 0.224, 0.225)

    def __init__(
        self,
        goal_image,
        *,
        model_dir: str | os.PathLike | None = None,
        model=None,
        weighting="last",
        image_size: int | None = None,
        batch_size: int = 64,
        device=None,
    ):
        if model is None:
            if model_dir is None:
                raise ValueError("DinoLatent needs model_dir= (a local DINOv2 directory) or model=")
            path = Path(model_dir)
            if not (path / "config.json").is_file():
                raise FileNotFoundError(
                    f"DINOv2 weights not found: expected a transformers checkpoint directory with config.json and "
                    f"model weights at {path} (e.g. a local copy of facebook/dinov2-small); nothing is downloaded"
                )
            from transformers import Dinov2Model

            model = Dinov2Model.from_pretrained(str(path), local_files_only=True)
        self.model = model.eval().requires_grad_(False)
        self.device = torch.device(device) if device else next(self.model.parameters()).device
        self.image_size = int(image_size or self.model.config.image_size)
        self.weighting, self.batch_size = weighting, batch_size
        self.goal_features = self.features(image_tensor(goal_image)[None])

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] -> patch features (N, P, D)."""
        x = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        mean = torch.tensor(self.MEAN).view(1, 3, 1, 1)
        std = torch.tensor(self.STD).view(1, 3, 1, 1)
        x = ((x - mean) / std).to(self.device)
        outs = [
            self.model(pixel_values=x[i : i + self.batch_size]).last_hidden_state[:, 1:].float().cpu()
            for i in range(0, len(x), self.batch_size)
        ]
        return torch.cat(outs)

    def __call__(self, frames, actions=None) -> torch.Tensor:
        x = as_video_tensor(frames)
        k, t = x.shape[:2]
        w = time_weights(t, self.weighting)
        used = torch.nonzero(w).flatten()
        feats = self.features(x[:, used].flatten(0, 1))
        d = ((feats - self.goal_features) ** 2).mean(dim=(1, 2)).view(k, len(used))
        return nan_to_worst(-(d * w[used]).sum(1))


class RewardModel:
    """Wrap a ``torch.nn.Module`` as a scorer.

    The module receives frames (K, T, 3, H, W) float32 in [0, 1] (and actions (K, T, A)
    float32 when ``use_actions``) and returns rewards (K,) or (K, T); per-frame rewards are
    reduced with ``reduce`` (``"sum"``, ``"mean"`` or ``"last"``).
    """

    def __init__(self, module: torch.nn.Module, *, use_actions: bool = False, reduce: str = "sum", device=None):
        if reduce not in ("sum", "mean", "last"):
            raise ValueError(f"reduce must be 'sum', 'mean' or 'last', got {reduce!r}")
        self.module = module.eval()
        self.use_actions, self.reduce = use_actions, reduce
        params = list(module.parameters())
        self.device = torch.device(device) if device else (params[0].device if params else torch.device("cpu"))

    @torch.no_grad()
    def __call__(self, frames, actions=None) -> torch.Tensor:
        x = as_video_tensor(frames).to(self.device)
        if self.use_actions:
            if actions is None:
                raise ValueError("this RewardModel needs actions")
            a = torch.as_tensor(np.asarray(actions), dtype=torch.float32, device=self.device)
            r = self.module(x, a)
        else:
            r = self.module(x)
        r = r.float().cpu()
        k = x.shape[0]
        if r.shape == (k, x.shape[1]):
            r = {"sum": r.sum(1), "mean": r.mean(1), "last": r[:, -1]}[self.reduce]
        if r.shape != (k,):
            raise ValueError(f"the reward module must return (K,) or (K, T) rewards, got {tuple(r.shape)}")
        return nan_to_worst(r)


class Weighted:
    """``sum_i w_i * scorer_i``. Give ``[(w, scorer), ...]`` or ``scorers, weights=``."""

    def __init__(self, scorers, weights=None):
        pairs = list(scorers) if weights is None else list(zip(weights, scorers, strict=True))
        if not pairs:
            raise ValueError("Weighted needs at least one scorer")
        out = []
        for i, (w, sc) in enumerate(pairs):
            w = as_real(w, f"Weighted weight {i}")
            if not callable(sc):
                raise TypeError(f"Weighted scorer {i} must be callable as scorer(frames, actions), got {sc!r}")
            out.append((float(w), sc))
        if all(w == 0 for w, _ in out):
            raise ValueError(f"Weighted needs at least one non-zero weight, got {[w for w, _ in out]}")
        self.pairs = out

    def __call__(self, frames, actions=None) -> torch.Tensor:
        total = None
        for w, s in self.pairs:
            if w == 0:
                continue
            v = torch.as_tensor(s(frames, actions), dtype=torch.float64) * w
            total = v if total is None else total + v
        return nan_to_worst(total)


__all__ = ["DinoLatent", "GoalDistance", "RewardModel", "Weighted", "as_video_tensor", "time_weights"]
