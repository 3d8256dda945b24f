"""Byte codecs for frames and arrays, shared by the server, its client and bulk I/O: PNG/JPEG
and ``.npy`` decoders that treat their input as untrusted (size-capped, pickles disabled, with
errors that name what was expected) and the matching encoders.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np

from .validation import PIL_MODES

MAX_IMAGE_PIXELS = 64_000_000  # an encoded image larger than this is refused before decoding
IMAGE_FORMATS = ("PNG", "JPEG")


def image_from_bytes(
    data: bytes, *, name: str = "frame", max_pixels: int = MAX_IMAGE_PIXELS, formats: tuple | None = IMAGE_FORMATS
) -> np.ndarray:
    """Decode encoded image bytes (PNG/JPEG by default) to (H, W, 3) uint8 RGB.

    The header is read first: a format not in ``formats`` (None: any format PIL reads), a mode
    that is not 8 bits per channel, or more than ``max_pixels`` pixels is refused (ValueError)
    before any pixel is decoded. Resolution is not checked here: pass the result to
    :func:`as_frame`.
    """

    from PIL import Image

    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{name} must be encoded image bytes (PNG/JPEG), got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"{name} is empty: expected PNG/JPEG bytes")
    try:
        img = Image.open(io.BytesIO(data))
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds for bad bytes
        raise ValueError(f"{name} is not a readable image ({len(data)} bytes): {e}") from None
    with img:
        if formats is not None and img.format not in formats:
            raise ValueError(f"{name} must be a {' or '.join(formats)} image, got format {img.format!r}")
        if img.width * img.height > max_pixels:
            raise ValueError(
                f"{name} has {img.width} x {img.height} = {img.width * img.height} pixels, "
                f"more than the limit of {max_pixels}"
            )
        if img.mode not in PIL_MODES:
            raise ValueError(
                f"{name} has image mode {img.mode!r}, expected 8-bit colour or grey ({', '.join(PIL_MODES)})"
            )
        try:
            return np.asarray(img.convert("RGB"))
        except Exception as e:  # noqa: BLE001 - truncated or corrupt pixel data
            raise ValueError(f"{name} is a damaged {img.format} image: {type(e).__name__}: {e}") from None


NPY_MAGIC = b"\x93NUMPY"


def array_from_npy_bytes(data: bytes, *, name: str = "actions") -> np.ndarray:
    """Parse ``.npy`` bytes with pickles disabled (an object array is refused, ValueError)."""

    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{name} must be .npy bytes, got {type(data).__name__}")
    head = bytes(data[:6])
    if head[:1] == b"\x80":  # a pickle's protocol opcode
        raise ValueError(
            f"{name}: pickled .npy data is refused (this is a pickle, not a .npy); "
            "send a plain numeric array written with numpy.save"
        )
    if head != NPY_MAGIC:  # np.load would take anything else for a pickle and say so
        raise ValueError(
            f"{name} is not a .npy file: it must start with the .npy magic {NPY_MAGIC!r}, got {bytes(data[:16])!r} "
            f"({len(data)} bytes; write it with numpy.save)"
        )
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise ValueError(f"{name}: pickled .npy data is refused; send a plain numeric array") from None
        raise ValueError(f"{name} is not a valid .npy array ({len(data)} bytes): {e}") from None
    except (OSError, EOFError) as e:
        raise ValueError(f"{name} is not a valid .npy array ({len(data)} bytes): {e}") from None
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{name} must hold one array (a .npy), got an archive")
    return arr


def png_bytes(frame: np.ndarray, *, compress_level: int = 6) -> bytes:
    """(H, W, 3) uint8 -> PNG bytes (lossless: :func:`image_from_bytes` gives the pixels back)."""

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame)).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def npy_bytes(arr: np.ndarray) -> bytes:
    """An array as ``.npy`` bytes (no pickles; :func:`array_from_npy_bytes` reads it back)."""

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def sha256(data: bytes) -> str:
    """The hex sha256 of ``data`` (what receipts record of inputs and outputs)."""
    return hashlib.sha256(data).hexdigest()
