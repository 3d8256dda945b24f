"""The quality of ``score=True`` rollouts: PSNR / SSIM / LPIPS against the same rollout with the
spec's own settings, computed by :func:`engine.metrics.video_metrics` (the quality gate's code)."""

from __future__ import annotations

import threading

import numpy as np


class RolloutQuality:
    """``quality(video, base_video) -> {"psnr_db", "ssim", "lpips"}`` for (T + 1, H, W, 3) uint8
    videos. LPIPS (VGG) is loaded once, on the first call, from ``lpips_weights`` (a file or
    folder; None looks in ``$DREAMGYM_LPIPS_DIR`` and torch hub's cache); without a local
    backbone ``lpips`` is None, unless ``lpips_weights`` was given (then FileNotFoundError)."""

    def __init__(self, lpips_weights: str | None = None) -> None:
        self.lpips_weights = lpips_weights
        self._lpips = None
        self._tried = False
        self._lock = threading.Lock()

    def __call__(self, video: np.ndarray, base_video: np.ndarray) -> dict:
        from ..metrics import LPIPS, video_metrics

        with self._lock:  # loaded once, on the first scored rollout (worker threads)
            if not self._tried:
                self._tried = True
                try:
                    self._lpips = LPIPS("vgg", backbone=self.lpips_weights)
                except FileNotFoundError:
                    if self.lpips_weights is not None:
                        raise
        m = video_metrics(video, base_video, lpips=self._lpips)
        return {
            "psnr_db": round(m["psnr_mean"], 4),
            "ssim": round(m["ssim_mean"], 6),
            "lpips": round(m["lpips_mean"], 6) if "lpips_mean" in m else None,
        }
