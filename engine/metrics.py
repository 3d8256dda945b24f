"""Image and video metrics, in one place (planners' scorers, benchmarks and the trainer use them).

* :func:`psnr` — peak signal-to-noise ratio in dB per frame, of uint8 frames (peak 255) or of
  floats with a given peak.
* :func:`ssim` — mean SSIM per image with a Gaussian window of sigma 1.5 and radius
  ``int(3 sigma)`` (9 taps; the common implementations use 11 taps), constants ``(0.01)^2``
  and ``(0.03)^2`` for images in [0, 1], reflect padding.
* :func:`blur` — separable Gaussian blur of (N, C, H, W).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def psnr(a, b, peak: float = 255.0) -> np.ndarray:
    """PSNR (dB) per frame of arrays (..., H, W, C), computed in float64; identical frames
    give ``10 log10(peak^2 / 1e-10)`` rather than infinity."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"psnr needs two arrays of one shape, got {a.shape} and {b.shape}")
    mse = ((a - b) ** 2).mean(axis=(-1, -2, -3))
    return 10 * np.log10(peak**2 / np.maximum(mse, 1e-10))


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, int(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) with reflect padding."""
    if sigma <= 0:
        return x
    k = _gaussian_kernel(sigma).to(x)
    c, r = x.shape[1], (len(k) - 1) // 2
    x = F.pad(x, (r, r, 0, 0), mode="reflect" if r < x.shape[-1] else "replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.pad(x, (0, 0, r, r), mode="reflect" if r < x.shape[-2] else "replicate")
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def ssim(a: torch.Tensor, b: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM per image of (N, C, H, W) in [0, 1] (Gaussian window, the usual constants)."""
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = blur(a, sigma), blur(b, sigma)
    saa = blur(a * a, sigma) - mu_a**2
    sbb = blur(b * b, sigma) - mu_b**2
    sab = blur(a * b, sigma) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * sab + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2)
    return (num / den).mean(dim=(1, 2, 3))
