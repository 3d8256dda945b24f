"""The engine service the routes share: the scheduler's lifecycle, the stores, the metrics, the
checks of frames, actions and limits, and the rollout replies (parsing is in :mod:`.forms`, the
catalogue in :mod:`.catalogue`, ``score=True`` quality in :mod:`.quality`)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
import time
import uuid

import numpy as np
from fastapi import Request
from fastapi.responses import Response

from ..batching import Job, JobCancelled, JobResult, JobTimeout, QueueFull, Scheduler, SchedulerClosed
from ..codecs import array_from_npy_bytes, image_from_bytes
from ..engine import Engine
from ..validation import as_frame, as_guidance, as_num_steps
from ..wire import REQUEST_ID
from .catalogue import model_entry, model_names
from .codec import WireError
from .config import ServerConfig
from .forms import check, float_field, int_field
from .prometheus import ServerMetrics
from .quality import RolloutQuality
from .stores import IdempotencyStore, RolloutStore, SessionStore


class Service:
    """The endpoints' shared state and logic (one per app)."""

    def __init__(self, engine: Engine, config: ServerConfig, model_label: str) -> None:
        self.engine = engine
        self.spec = engine.spec
        self.config = config
        self.label = model_label
        self.started = time.time()
        self.secret = secrets.token_bytes(32)
        self.sessions = SessionStore(config.max_sessions, config.session_ttl_s)
        self.idem = IdempotencyStore(config.idempotency_entries)
        self.rollouts = RolloutStore()
        self.scheduler: Scheduler | None = None
        self.metrics = ServerMetrics(
            lambda: self.scheduler.queue_depth if self.scheduler else 0,
            lambda: self.scheduler.active_rows if self.scheduler else 0,
            lambda: len(self.sessions),
        )
        self.latencies: list[float] = []
        self.params = engine.parameter_count()
        self._quality = RolloutQuality(config.lpips_weights)

    def quality(self, video: np.ndarray, base_video: np.ndarray) -> dict:
        """``psnr_db`` / ``ssim`` / ``lpips`` of a rollout against the same rollout with the spec's
        own settings (``score=True``; :class:`~engine.serving.quality.RolloutQuality`)."""
        return self._quality(video, base_video)

    def open(self) -> None:
        c = self.config
        self.scheduler = Scheduler(
            self.engine, max_rows=c.max_batch_rows, wait_ms=c.batch_wait_ms, max_queue=c.max_queue, batching=c.batching
        )
        self.scheduler.on_step = self.metrics.on_step

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.close()

    # --- inputs ---------------------------------------------------------------------------
    def frame(self, data: bytes, name: str = "frame") -> np.ndarray:
        try:
            img = image_from_bytes(data, name=name, max_pixels=self.config.max_image_pixels)
        except ValueError as e:
            status = 413 if "more than the limit" in str(e) else 422
            raise WireError(status, "invalid_image", str(e), limit=self.config.max_image_pixels) from None
        return check(as_frame, img, self.spec, name=name)

    def actions(self, data: bytes, name: str = "actions") -> np.ndarray:
        arr = check(array_from_npy_bytes, data, name=name)
        t = arr.shape[-2] if arr.ndim in (2, 3) else 0
        if t > self.config.max_frames:
            raise WireError(
                422,
                "too_many_frames",
                f"{name} has T = {t} actions, the server's limit is max_frames = {self.config.max_frames}",
                limit=self.config.max_frames,
            )
        return arr

    def candidates(self, k: int) -> None:
        if k > self.config.max_candidates:
            raise WireError(
                422,
                "too_many_candidates",
                f"the request has K = {k} rollouts, the server's limit is "
                f"max_candidates = {self.config.max_candidates}",
                limit=self.config.max_candidates,
            )

    def knobs(self, num_steps, guidance) -> tuple[int, float]:
        ns = check(as_num_steps, int_field(num_steps, "num_steps"), self.spec)
        g = check(as_guidance, float_field(guidance, "guidance"), self.spec)
        return ns, g

    # --- running ----------------------------------------------------------------------------
    async def run(self, request: Request | None, job: Job) -> JobResult:
        """Submit a job and wait for it; cancels it if the client disconnects."""
        job.deadline = time.monotonic() + self.config.request_timeout_s
        try:
            fut = self.scheduler.submit(job)
        except QueueFull as e:
            raise WireError(
                429,
                "queue_full",
                f"the server is busy: {e.depth} requests are waiting "
                f"(max_queue = {self.config.max_queue}); retry later",
                headers={"Retry-After": str(int(math.ceil(e.retry_after_s)))},
                limit=self.config.max_queue,
            ) from None
        except SchedulerClosed:
            raise WireError(503, "shutting_down", "the server is shutting down", headers={"Retry-After": "1"}) from None
        waiter = asyncio.wrap_future(fut)
        try:
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=0.2)
                if done:
                    break
                if request is not None and await request.is_disconnected():
                    job.cancel()
                    self.metrics.disconnects.inc()
                    raise WireError(499, "client_closed_request", "the client went away")
        except asyncio.CancelledError:
            job.cancel()
            raise
        try:
            result = waiter.result()
        except JobTimeout:
            raise WireError(
                504,
                "timeout",
                f"the request did not finish within the server's request_timeout_s = {self.config.request_timeout_s}",
            ) from None
        except JobCancelled:
            raise WireError(499, "client_closed_request", "the request was cancelled") from None
        except (ValueError, TypeError) as e:
            raise WireError(422, "invalid_input", str(e)) from None
        self.metrics.rollouts.inc(job.rows)
        return result

    def chunks(self, acts: np.ndarray) -> np.ndarray:
        """(K, T, A) -> (K, T // chunk_size, chunk_size, A)."""
        k, t, a = acts.shape
        cs = self.spec.chunk_size
        return acts.reshape(k, t // cs, cs, a)

    def headers(self, rid: str, result: JobResult, k: int, frames: int, seeds: list[int], ns: int, g: float) -> dict:
        charge = frames * k * self.config.price_per_frame_usd
        return {
            REQUEST_ID: rid,
            "X-DreamEngine-Batch-Size": str(k),
            "X-DreamEngine-Engine-Wall-Ms": f"{result.wall_s * 1000:.1f}",
            "X-DreamEngine-Queue-Ms": f"{result.queued_s * 1000:.1f}",
            "X-DreamEngine-Estimated-Charge-USD": f"{charge:.6f}",
            "X-DreamEngine-Customer-Id": "local",
            "X-DreamEngine-Model": self.spec.name,
            "X-DreamEngine-Frames": str(frames),
            "X-DreamEngine-Seeds": ",".join(str(s) for s in seeds),
            "X-DreamEngine-Num-Steps": str(ns),
            "X-DreamEngine-Guidance": repr(g),
            "X-DreamEngine-Batched-Rows": str(result.batch_rows),
            "X-DreamEngine-Batched-Requests": str(result.batch_jobs),
        }

    def videos(self, start: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """(K, T, H, W, 3) predictions -> (K, T + 1, H, W, 3) with the start frame first."""
        k = frames.shape[0]
        return np.concatenate([np.broadcast_to(start, (k, 1, *start.shape)), frames], axis=1)

    def record_latency(self, seconds: float) -> None:
        self.latencies.append(seconds)
        if len(self.latencies) > 4096:
            del self.latencies[:2048]

    def model_entry(self, name: str) -> dict:
        """The ``/v1/models`` entry of spec ``name`` (:func:`~engine.serving.catalogue.model_entry`)."""
        return model_entry(self.spec, name, self.config.price_per_frame_usd, self.params)

    def model_names(self) -> list[str]:
        """Every spec name the catalogue lists, the served one first if it is not built in."""
        return model_names(self.spec)

    def request_id(self, request: Request) -> str:
        return request.scope.get("state", {}).get("request_id", uuid.uuid4().hex)

    async def respond(self, request: Request, fingerprint: str, compute) -> Response:
        """Run ``compute`` once per idempotency key and answer with what it stored."""
        t0 = time.perf_counter()
        stored, replayed = await self.idem.run(request.headers.get("idempotency-key"), fingerprint, compute)
        headers = dict(stored.headers)
        if replayed:
            self.metrics.idempotent_replays.inc()
            headers["Idempotent-Replayed"] = "true"
        self.record_latency(time.perf_counter() - t0)
        return Response(stored.body, status_code=stored.status, media_type=stored.media_type, headers=headers)

    def sign(self, rid: str, expires: int) -> str:
        return hmac.new(self.secret, f"{rid}:{expires}".encode(), hashlib.sha256).hexdigest()
