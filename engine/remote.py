"""``RemoteEngine``: the engine contract (:class:`~engine.protocol.WorldModel`) over HTTP,
against ``dreamgym serve``.

Envs, vector envs and planners take a ``RemoteEngine`` wherever they take an ``Engine``. It
asks the server for lossless frames (``.npy``), so its results equal a local engine's bit for
bit. Every call carries an ``Idempotency-Key``: when a request fails on the network, on 429
or on 502/503/504 it is retried with backoff (honouring ``Retry-After``) under the same key,
and the server never runs it twice. Session rows (``start``/``step``) that the server lost
(it restarted, or the row expired) are rebuilt from the start frame and the actions already
run, which reproduces them exactly, so an episode survives a server restart.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field

import numpy as np

from .codecs import array_from_npy_bytes, npy_bytes, png_bytes
from .protocol import BaseEngine, RolloutState, per_row
from .rollout import RolloutBatch
from .specs import ModelSpec
from .validation import as_int
from .wire import ENGINE_WALL_MS, MEDIA_NPY, REQUEST_ID

RETRY_STATUSES = frozenset({429, 502, 503, 504})


class RemoteEngineError(RuntimeError):
    """The server refused or failed a request (``status``, ``code`` and its message)."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class RemoteInputError(RemoteEngineError, ValueError):
    """The server found the input invalid (a 4xx other than auth): also a ``ValueError``."""


@dataclass(kw_only=True)
class RemoteState(RolloutState):
    """Where B remote rollouts stand between chunks (the ``EngineState`` of a RemoteEngine).

    Attributes (besides :class:`~engine.protocol.RolloutState`'s):
        rows: the server's id of each row.
        start_frames (B, H, W, 3) and history (per row, (chunk_index * chunk_size, A)): what
            rebuilds a row the server lost.
        engine: the RemoteEngine whose server holds the rows.
    """

    rows: list[str] = per_row()
    start_frames: np.ndarray = per_row()
    history: list[np.ndarray] = per_row()
    engine: RemoteEngine | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.engine is not None:
            self.engine._hold(self.rows)
            weakref.finalize(self, self.engine._drop, list(self.rows))


class RemoteEngine(BaseEngine):
    """A world model served by ``dreamgym serve`` at ``url``, with the Engine surface.

    Args:
        url: the server's base URL, e.g. ``"http://127.0.0.1:8000"``.
        api_key: bearer token when the server was started with ``--api-key-env``.
        timeout_s: per-request timeout. retries: attempts after the first on network errors,
            429 and 502/503/504 (each waits ``backoff_s * 2**attempt``, jittered, capped at
            ``max_backoff_s``, or the server's ``Retry-After``).

    Attributes: ``spec`` (the served :class:`ModelSpec`), ``example_frames``,
    ``deterministic`` (the server engine's mode), ``url``.
    """

    state_type = RemoteState
    runs_in_process = False

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 300.0,
        retries: int = 8,
        backoff_s: float = 0.25,
        max_backoff_s: float = 8.0,
    ) -> None:
        import httpx

        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {url!r}")
        retries = as_int(retries, "retries", low=0)
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        headers = {"User-Agent": "dreamgym-remote-engine"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=httpx.Timeout(timeout_s))
        self._lock = threading.Lock()
        self._refs: dict[str, int] = {}
        self._released: list[str] = []
        info = self._call("GET", "/v1/engine").json()
        self.spec = ModelSpec.from_dict(info["spec"])
        self.deterministic = bool(info.get("deterministic"))
        self.device = info.get("device", "")
        self.threads = info.get("threads")
        self._weights_sha256 = info.get("weights_sha256")
        self._has_examples = bool(info.get("example_frames"))
        self._examples: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"RemoteEngine({self.url!r}, spec={self.spec.name!r})"

    def weights_sha256(self) -> str | None:
        """sha256 of the served model's weights (as ``Engine.weights_sha256``)."""
        return self._weights_sha256

    @property
    def example_frames(self) -> np.ndarray | None:
        """(N, H, W, 3) uint8 example start frames shipped with the served model, or None."""
        if self._has_examples and self._examples is None:
            self._examples = array_from_npy_bytes(self._call("GET", "/v1/engine/example_frames").content)
        return self._examples

    # --- transport ----------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, files=None, data=None, json_body=None, idempotent: bool = True):
        """One request with retries; returns the httpx response or raises RemoteEngineError."""
        import httpx

        headers = {"Accept": MEDIA_NPY}
        if idempotent and method == "POST":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        last = None
        for attempt in range(self.retries + 1):
            retry_after = None
            try:
                resp = self._http.request(method, path, files=files, data=data, json=json_body, headers=headers)
            except httpx.TransportError as e:
                last = RemoteEngineError(f"{method} {self.url}{path}: {type(e).__name__}: {e}")
            else:
                if resp.status_code < 400:
                    return resp
                err = self._error(resp)
                if resp.status_code not in RETRY_STATUSES:
                    raise err
                last = err
                try:
                    retry_after = float(resp.headers.get("retry-after", ""))
                except ValueError:
                    retry_after = None
            if attempt < self.retries:
                delay = min(self.max_backoff_s, self.backoff_s * 2**attempt) * random.uniform(0.5, 1.5)
                time.sleep(min(self.max_backoff_s, retry_after) if retry_after is not None else delay)
        raise last

    def _error(self, resp) -> RemoteEngineError:
        try:
            body = resp.json()
            err = body.get("error", {}) if isinstance(body, dict) else {}
            message, code = str(body.get("detail", resp.text)), err.get("code")
        except ValueError:
            message, code = resp.text[:500], None
        rid = resp.headers.get(REQUEST_ID, "")
        text = f"{self.url} answered {resp.status_code}: {message} (request {rid})"
        if 400 <= resp.status_code < 500 and resp.status_code not in (401, 403, 404, 409, 429):
            return RemoteInputError(text, resp.status_code, code)
        return RemoteEngineError(text, resp.status_code, code)

    # --- rollouts (arguments checked by BaseEngine) -------------------------------------------
    def _predict(self, frame, acts, seeds, ns, g) -> RolloutBatch:
        t0 = time.perf_counter()
        files = [
            ("frame", ("frame.png", png_bytes(frame, compress_level=1), "image/png")),
            ("actions", ("actions.npy", npy_bytes(acts), MEDIA_NPY)),
        ]
        data = {"seeds": json.dumps(seeds), "num_steps": str(ns), "guidance": repr(g)}
        resp = self._call("POST", "/v1/predict/batch", files=files, data=data)
        videos = array_from_npy_bytes(resp.content)
        expect = (acts.shape[0], acts.shape[1] + 1, *self.spec.resolution, 3)
        if videos.shape != expect or videos.dtype != np.uint8:
            raise RemoteEngineError(
                f"the server sent frames of shape {videos.shape} {videos.dtype}, expected {expect} uint8"
            )
        rid = resp.headers.get(REQUEST_ID, "")
        wall = float(resp.headers.get(ENGINE_WALL_MS, "0")) / 1000.0
        return RolloutBatch(
            np.ascontiguousarray(videos[:, 1:]),
            frame,
            acts,
            seeds,
            spec_name=self.spec.name,
            num_steps=ns,
            guidance=g,
            fps=self.spec.fps,
            wall_s=wall,
            timings={"engine": wall, "total": time.perf_counter() - t0},
            request_ids=[rid] * acts.shape[0],
        )

    # --- chunk by chunk ------------------------------------------------------------------------
    def _start(self, frames, seeds, ns, g) -> RemoteState:
        empty = [np.zeros((0, self.spec.action_dim), np.float32) for _ in seeds]
        ids = self._open(frames, seeds, ns, g, None)
        return RemoteState.first(frames, seeds, ns, g, rows=ids, start_frames=frames.copy(), history=empty, engine=self)

    def _open(self, frames, seeds, ns, g, history) -> list[str]:
        files = [("frames", ("frames.npy", npy_bytes(frames), MEDIA_NPY))]
        if history is not None:
            files.append(("history", ("history.npy", npy_bytes(history), MEDIA_NPY)))
        data = {"seeds": json.dumps(seeds), "num_steps": str(ns), "guidance": repr(g)}
        self._flush_released()
        return self._call("POST", "/v1/engine/start", files=files, data=data).json()["rows"]

    def _owns(self, state) -> bool:
        return isinstance(state, RemoteState) and state.engine is self

    def _step(self, state: RemoteState, acts, peek: bool):
        cs = self.spec.chunk_size
        self._flush_released()
        rows = list(state.rows)
        for _attempt in range(3):
            data = {"rows": json.dumps(rows), "chunk_index": json.dumps([int(i) for i in state.chunk_index])}
            if peek:
                data["peek"] = "1"
            files = [("actions", ("actions.npy", npy_bytes(acts), MEDIA_NPY))]
            try:
                resp = self._call("POST", "/v1/engine/step", files=files, data=data)
                break
            except RemoteEngineError as e:
                if e.code != "session_not_found":
                    raise
                rows = self._rebuild(state, rows)
        else:
            raise RemoteEngineError("the server kept losing this state's rows; giving up after 3 rebuilds")
        frames = array_from_npy_bytes(resp.content)
        if frames.shape != (len(rows), cs, *self.spec.resolution, 3):
            raise RemoteEngineError(f"the server sent frames of shape {frames.shape}")
        if peek:
            return frames, state
        history = [np.concatenate([h, a]) for h, a in zip(state.history, acts, strict=True)]
        wall = float(resp.headers.get(ENGINE_WALL_MS, "0")) / 1000.0
        return frames, state.advanced(frames, {"timings": {"engine": wall}}, rows=rows, history=history)

    def _rebuild(self, state: RemoteState, rows: list[str]) -> list[str]:
        """Re-open the rows of ``state`` on the server, replaying each row's actions so far
        (grouped by history length); returns the new ids."""
        rows = list(rows)
        by_len: dict[int, list[int]] = {}
        for i, h in enumerate(state.history):
            by_len.setdefault(len(h), []).append(i)
        for length, idx in by_len.items():
            hist = np.stack([state.history[i] for i in idx]) if length else None
            new = self._open(
                state.start_frames[idx], [state.seeds[i] for i in idx], state.num_steps, state.guidance, hist
            )
            for i, rid in zip(idx, new, strict=True):
                rows[i] = rid
        return rows

    # --- row bookkeeping: rows no live state refers to are released on the next call -----------
    def _hold(self, rows) -> None:
        with self._lock:
            for r in rows:
                self._refs[r] = self._refs.get(r, 0) + 1

    def _drop(self, rows) -> None:
        with self._lock:
            for r in rows:
                n = self._refs.get(r, 0) - 1
                if n <= 0:
                    self._refs.pop(r, None)
                    self._released.append(r)
                else:
                    self._refs[r] = n

    def _flush_released(self) -> None:
        with self._lock:
            ids, self._released = self._released, []
        if ids:
            try:
                self._call("POST", "/v1/engine/release", json_body={"rows": ids}, idempotent=False)
            except RemoteEngineError:
                pass  # the server drops idle rows after its TTL anyway

    def close(self) -> None:
        """Release the rows no state refers to and close the HTTP connection pool."""
        self._flush_released()
        self._http.close()

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["RemoteEngine", "RemoteEngineError", "RemoteInputError", "RemoteState"]
