"""Start frames for envs: :func:`load_start_frames` reads them from an array, a list, or a
directory of images (.png/.jpg), episodes (.npz with ``frames``: frame 0 of each episode) or
videos (.mp4: first frame). (Engines come from the one resolver, :func:`engine.open`.)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine import decode_mp4
from engine.validation import as_frame

_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp"}


def load_start_frames(source, spec) -> np.ndarray | None:
    """Start frames (N, H, W, 3) uint8 from ``source`` (None passes through)."""
    if source is None:
        return None
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_dir():
            raise FileNotFoundError(f"start_frames directory {path} does not exist")
        frames = []
        for f in sorted(path.iterdir()):
            ext = f.suffix.lower()
            if ext in _IMAGE_EXT:
                from PIL import Image

                with Image.open(f) as im:
                    frames.append(as_frame(im, spec, name=str(f)))
            elif ext == ".npz":
                with np.load(f) as d:
                    if "frames" not in d.files:
                        raise ValueError(f"{f} has no 'frames' array")
                    eps = d["frames"]
                    eps = eps[None] if eps.ndim == 4 else eps
                    frames.extend(as_frame(e[0], spec, name=f"{f}[{i}]") for i, e in enumerate(eps))
            elif ext == ".mp4":
                frames.append(as_frame(decode_mp4(f)[0], spec, name=str(f)))
        if not frames:
            raise ValueError(f"no start frames found in {path} (expected .png/.jpg images, .npz episodes or .mp4)")
        return np.stack(frames)
    arr = np.stack(list(source)) if isinstance(source, list | tuple) else np.asarray(source)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or len(arr) == 0:
        raise ValueError(f"start_frames must be (N, H, W, 3) uint8 with N >= 1, got shape {arr.shape}")
    return np.stack([as_frame(f, spec, name=f"start_frames[{i}]") for i, f in enumerate(arr)])
