"""``ServerConfig``: the limits and policies of a server."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..validation import MAX_CANDIDATES


def flag(default, name: str, help: str, *, scale: int = 1, kind: type | None = None):
    """A :class:`ServerConfig` field that ``dreamgym serve`` exposes as the flag ``name``
    (the flag's value times ``scale``; a bool field default True is turned off by its flag)."""
    meta = {"flag": name, "help": help, "scale": scale, "kind": kind or type(default)}
    return field(default=default, metadata=meta)


@dataclass
class ServerConfig:
    """Limits and policies of a server.

    Attributes:
        api_key: bearer token every request must carry (None: no auth).
        max_body_bytes: largest request body (413 beyond).
        max_candidates: largest K of one request (rows of a batch, a start or a step).
        max_frames: largest T (predicted frames) of one rollout.
        max_image_pixels: largest decoded start frame (413 beyond, checked from the header).
        request_timeout_s: a request still unfinished after this long gets a 504.
        max_queue: requests waiting for the engine before new ones get 429 + Retry-After.
        max_batch_rows: most rows in one engine step. batch_wait_ms: how long an idle server
            waits for company after a request arrives. batching: False runs requests one at
            a time (no dynamic batching).
        max_sessions: open session rows (SDK sessions and RemoteEngine rows); session_ttl_s:
            idle time after which one is dropped.
        price_per_frame_usd: reported in ``X-DreamEngine-Estimated-Charge-USD`` and
            ``/v1/specs`` (0: a local server charges nothing).
        lpips_weights: the VGG-16 checkpoint for the LPIPS of ``score=True`` rollouts (file
            or folder); None looks in ``$DREAMGYM_LPIPS_DIR`` and torch hub's cache, and
            without one ``lpips`` stays null (PSNR and SSIM are always computed).
    """

    api_key: str | None = None  # the command reads it from the variable --api-key-env names
    max_body_bytes: int = flag(64 * 1024 * 1024, "--max-body-mb", "largest request body in MiB", scale=1024 * 1024)
    max_candidates: int = flag(64, "--max-candidates", "most rollouts in one request")
    max_frames: int = flag(1024, "--max-frames", "most predicted frames per rollout")
    max_image_pixels: int = 16_000_000
    request_timeout_s: float = flag(300.0, "--request-timeout", "seconds before a request gets 504")
    max_queue: int = flag(256, "--max-queue", "requests waiting before 429")
    max_batch_rows: int = flag(32, "--max-batch-rows", "most rows in one engine step")
    batch_wait_ms: float = flag(30.0, "--batch-wait-ms", "how long an idle server waits for company")
    batching: bool = flag(True, "--no-batching", "run requests one at a time (no dynamic batching)")
    max_sessions: int = flag(1024, "--max-sessions", "open session rows")
    session_ttl_s: float = flag(600.0, "--session-ttl", "idle seconds before a session closes")
    price_per_frame_usd: float = flag(0.0, "--price-per-frame", "USD per frame reported to clients")
    idempotency_entries: int = 1024
    lpips_weights: str | None = flag(
        None, "--lpips-weights", "VGG-16 checkpoint for the LPIPS of score=True rollouts (file or folder)", kind=str
    )

    def __post_init__(self) -> None:
        for key in ("max_body_bytes", "max_candidates", "max_frames", "max_image_pixels", "max_queue"):
            _positive_int(key, getattr(self, key))
        for key in ("max_batch_rows", "max_sessions", "idempotency_entries"):
            _positive_int(key, getattr(self, key))
        if self.max_candidates > MAX_CANDIDATES:
            raise ValueError(f"max_candidates must be at most {MAX_CANDIDATES}, got {self.max_candidates}")
        for key in ("request_timeout_s", "session_ttl_s"):
            v = getattr(self, key)
            if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{key} must be a positive number of seconds, got {v!r}")
        if not isinstance(self.batch_wait_ms, int | float) or not 0 <= self.batch_wait_ms <= 1000:
            raise ValueError(f"batch_wait_ms must be in [0, 1000], got {self.batch_wait_ms!r}")
        if not isinstance(self.price_per_frame_usd, int | float) or not 0 <= self.price_per_frame_usd < 1e6:
            raise ValueError(f"price_per_frame_usd must be a number >= 0, got {self.price_per_frame_usd!r}")
        if self.api_key is not None and (not isinstance(self.api_key, str) or len(self.api_key) < 8):
            raise ValueError("api_key must be a string of at least 8 characters (or None for no auth)")


def _positive_int(key: str, v) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{key} must be a positive int, got {v!r}")
