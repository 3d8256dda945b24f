"""mp4 in and out with PyAV: h.264 baseline, yuv420p, deterministic bytes.

``encode_mp4(frames, fps) -> bytes`` and ``decode_mp4(data_or_path) -> (T, H, W, 3) uint8``.
Encoding runs x264 single-threaded with fixed options and writes no creation time, so the
same frames give the same bytes on the same PyAV/FFmpeg build. The RGB to yuv420p conversion
is ours (integer BT.601 limited range, 2x2 chroma averaging), not swscale's: x264 then sees
planes whose every byte, row padding included, we wrote.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import av
import numpy as np

from .files import atomic_write_bytes

_X264_OPTIONS = {"profile": "baseline", "preset": "medium", "crf": "12", "threads": "1"}


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (T, H, W, 3), got {frames.shape}")
    if frames.dtype != np.uint8:
        raise TypeError(f"frames must be uint8, got {frames.dtype}")
    if frames.shape[0] == 0:
        raise ValueError("frames must hold at least one frame")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"yuv420p needs even height and width, got {frames.shape[1:3]}")
    return frames


def rgb_to_yuv420p(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB, H and W even -> Y (H, W), U (H/2, W/2), V (H/2, W/2) uint8.

    BT.601 limited range in integer arithmetic (the usual 8-bit coefficients), so the result
    is bit-exact on every machine; chroma is computed from the 2x2-summed RGB."""
    rgb = frame.astype(np.int32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    h, w = frame.shape[:2]
    s = rgb.reshape(h // 2, 2, w // 2, 2, 3).sum(axis=(1, 3))
    rs, gs, bs = s[..., 0], s[..., 1], s[..., 2]
    u = ((-38 * rs - 74 * gs + 112 * bs + 512) >> 10) + 128
    v = ((112 * rs - 94 * gs - 18 * bs + 512) >> 10) + 128
    return tuple(np.clip(c, 0, 255).astype(np.uint8) for c in (y, u, v))


def _yuv_frame(frame: np.ndarray) -> av.VideoFrame:
    out = av.VideoFrame(frame.shape[1], frame.shape[0], "yuv420p")
    for plane, data in zip(out.planes, rgb_to_yuv420p(frame), strict=True):
        padded = np.zeros((data.shape[0], plane.line_size), np.uint8)
        padded[:, : data.shape[1]] = data
        plane.update(padded.tobytes())
    return out


def encode_mp4(frames: np.ndarray, fps: int) -> bytes:
    """Encode (T, H, W, 3) uint8 frames as an h.264 baseline yuv420p mp4; returns the bytes."""
    frames = _check_frames(frames)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=int(fps), options=dict(_X264_OPTIONS))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(_yuv_frame(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def decode_mp4(source: bytes | str | os.PathLike) -> np.ndarray:
    """Decode an mp4 (bytes or a path) to (T, H, W, 3) uint8 RGB frames."""
    handle = io.BytesIO(source) if isinstance(source, bytes | bytearray) else str(source)
    with av.open(handle, mode="r") as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if not frames:
        raise ValueError("the mp4 holds no video frames")
    return np.stack(frames)


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: int) -> Path:
    """Encode ``frames`` and write them atomically to ``path``."""
    return atomic_write_bytes(path, encode_mp4(frames, fps))
