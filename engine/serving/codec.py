"""The server side of the wire format of ``dreamgym serve`` (the names it shares with
:class:`~engine.RemoteEngine` are in :mod:`engine.wire`).

Requests are multipart forms as the Dream Engine SDK sends them: a ``frame`` PNG (or JPEG),
``actions`` as ``.npy`` (parsed with pickles disabled), text fields ``seed``, ``num_steps``,
``guidance``. Responses carry video in one of two encodings of the same frames, chosen by the
request's ``Accept`` header:

* ``video/mp4`` (the default, what the SDK expects): h.264 of the start frame followed by the
  T predicted frames; ``/v1/predict/batch`` returns a tar of ``rollout_{k:03d}.mp4``.
* ``application/x-npy`` (lossless): one ``.npy`` uint8 array of the same frames,
  (T + 1, H, W, 3), or (K, T + 1, H, W, 3) for a batch. :class:`RemoteEngine` asks for it,
  so remote results equal local ones bit for bit.

Errors are JSON ``{"detail": message, "error": {"code", "message", ...}}`` (the SDK shows
``detail``), with the status codes the SDK maps: 401 auth, 404 not found, 409 idempotency
conflict, 413 too large, 422 invalid input, 429 queue full (with ``Retry-After``), 501 not
offered here (billing), 503 shutting down, 504 past the request timeout.
"""

from __future__ import annotations

import io
import json
import tarfile

from ..wire import MEDIA_NPY


class WireError(Exception):
    """A request the server refuses: an HTTP status, a short code, and a message that names
    the expected and the received value. ``extra`` goes into the JSON error object."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict | None = None, **extra) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra

    def body(self, request_id: str = "") -> dict:
        err = {"code": self.code, "message": self.message, "request_id": request_id, **self.extra}
        return {"detail": self.message, "error": err}


def tar_of_mp4s(videos: list[bytes]) -> bytes:
    """A tar of ``rollout_{k:03d}.mp4`` members (the batch response the SDK unpacks); members
    are sorted by name, carry mtime 0 and so the tar's bytes depend only on the videos."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for k, data in enumerate(videos):
            info = tarfile.TarInfo(f"rollout_{k:03d}.mp4")
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def wants_npy(accept: str | None) -> bool:
    """True when the ``Accept`` header asks for the lossless ``.npy`` encoding."""
    return bool(accept) and MEDIA_NPY in accept


def parse_json_list(text: str, *, name: str, items: type | tuple[type, ...] | None = None) -> list:
    """A form field holding a JSON list (e.g. ``seeds``, ``rows``), its items of type ``items``
    when given (a dict or a list where an id belongs is a 422, not a 500)."""
    try:
        value = json.loads(text)
    except ValueError:
        raise WireError(422, "invalid_field", f"{name} must be a JSON list, got {text[:80]!r}") from None
    if not isinstance(value, list):
        raise WireError(422, "invalid_field", f"{name} must be a JSON list, got {type(value).__name__}")
    if items is not None:
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, items):
                kinds = items if isinstance(items, tuple) else (items,)
                want = " or ".join({str: "strings", int: "integers"}.get(k, k.__name__) for k in kinds)
                raise WireError(
                    422, "invalid_field", f"{name} must be a JSON list of {want}; item {i} is {json.dumps(item)[:60]}"
                )
    return value
