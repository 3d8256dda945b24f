"""Where envs get their engine and start frames.

``resolve_engine`` turns ``engine=`` (None, a spec name, a checkpoint path, a server URL, an
``Engine`` or a ``RemoteEngine``) into an engine; names, paths and URLs are resolved once per
process and shared, so several envs never load the same model twice. A URL
(``http://HOST:PORT`` of ``dreamgym serve``) gives a ``RemoteEngine``, with the API key from
``$DREAMGYM_API_KEY`` when set. ``load_start_frames`` reads start frames from an array, a
list, or a directory of images (.png/.jpg), episodes (.npz with ``frames``: frame 0 of each
episode) or videos (.mp4: first frame).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from engine import Engine, as_frame, decode_mp4

_CACHE: dict[str, Engine] = {}
_LOCK = threading.Lock()


def resolve_engine(engine=None):
    """An ``Engine`` or ``RemoteEngine`` for ``engine=`` (see the module docstring)."""
    from engine.serving import RemoteEngine

    if isinstance(engine, Engine | RemoteEngine):
        return engine
    if engine is None:
        key = "push-64"
    elif isinstance(engine, str | os.PathLike):
        key = str(engine)
    else:
        raise TypeError(
            "engine must be None, a spec name, a checkpoint path, a server URL, an Engine or a RemoteEngine, "
            f"got {type(engine).__name__}"
        )
    with _LOCK:
        if key not in _CACHE:
            if key.startswith(("http://", "https://")):
                _CACHE[key] = RemoteEngine(key, api_key=os.environ.get("DREAMGYM_API_KEY") or None)
            else:
                _CACHE[key] = Engine.load(engine if isinstance(engine, os.PathLike) else key)
        return _CACHE[key]


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
