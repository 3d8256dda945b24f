"""Reproducibility receipts: what a bulk row records so it can be re-run and checked.

A receipt holds the seed, num_steps, guidance, the spec, sha256 of the weights, of the
start frame's pixels and of the actions (float32, as run), the software versions, the
device class and thread count, the precision and the CPU's ISA class (bits may differ
between ISA classes), the wall time, and sha256 of the output mp4. The inputs
themselves are kept next to the video (``inputs/<row_id>.png`` / ``.npy``), so
``dreamgym verify`` needs nothing but the sink.
"""

from __future__ import annotations

import platform
from functools import lru_cache

import numpy as np

from ..codecs import sha256


@lru_cache(maxsize=1)
def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("dreamgym", "torch", "diffusers", "numpy", "av"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


@lru_cache(maxsize=4)
def device_class(device: str) -> str:
    """``cpu: <processor>`` or ``cuda: <GPU name>``."""
    if device.startswith("cuda"):
        try:
            import torch

            return f"cuda: {torch.cuda.get_device_name(torch.device(device))}"
        except Exception:  # noqa: BLE001 - a remote device string
            return device
    name = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        name = platform.processor()
    return f"cpu: {name or platform.machine()}"


def receipt(
    *,
    frame: np.ndarray,
    actions: np.ndarray,
    seed: int,
    num_steps: int,
    guidance: float,
    spec_name: str,
    weights_sha256: str,
    device: str,
    threads: int | None,
    deterministic: bool,
    wall_ms: float,
    mp4: bytes,
    numerics: dict | None = None,
) -> dict:
    return {
        "seed": int(seed),
        "num_steps": int(num_steps),
        "guidance": float(guidance),
        "spec": spec_name,
        "weights_sha256": weights_sha256,
        "frame_sha256": sha256(np.ascontiguousarray(frame).tobytes()),
        "actions_sha256": sha256(np.ascontiguousarray(actions, dtype=np.float32).tobytes()),
        "actions_shape": list(actions.shape),
        "mp4_sha256": sha256(mp4),
        "frames": int(actions.shape[0]) + 1,
        "versions": versions(),
        "device": device_class(str(device)),
        "threads": threads,
        "deterministic": bool(deterministic),
        **(numerics or {}),
        "wall_ms": round(float(wall_ms), 1),
    }
