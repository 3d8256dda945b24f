"""The server's in-memory stores: idempotent responses, session rows, finished rollouts.

All of them are bounded (entries and age) and touched only from the event loop thread.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from ..engine import EngineState
from .codec import WireError


@dataclass
class Stored:
    """A finished response, kept so an idempotent retry gets the same bytes."""

    status: int
    body: bytes
    media_type: str
    headers: dict[str, str]


class IdempotencyStore:
    """Responses by ``Idempotency-Key``: a retried request never runs twice.

    A key seen while its first request is still running waits for that request's result. A
    key reused with a different payload is a 409. Only successes are kept: a request that
    failed (4xx/5xx) may be retried and runs again.
    """

    def __init__(self, max_entries: int = 1024, ttl_s: float = 3600.0) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._entries: OrderedDict[str, tuple[str, float, asyncio.Future]] = OrderedDict()

    def _expire(self) -> None:
        now = time.monotonic()
        while self._entries:
            key, (_, born, fut) = next(iter(self._entries.items()))
            if len(self._entries) > self.max_entries or (now - born > self.ttl_s and fut.done()):
                self._entries.popitem(last=False)
            else:
                break

    async def run(self, key: str | None, fingerprint: str, compute) -> tuple[Stored, bool]:
        """``compute()`` once per key; returns (response, replayed)."""
        if not key:
            return await compute(), False
        if len(key) > 255:
            raise WireError(
                422, "invalid_idempotency_key", f"Idempotency-Key must be at most 255 characters, got {len(key)}"
            )
        self._expire()
        entry = self._entries.get(key)
        if entry is not None:
            seen, _, fut = entry
            if seen != fingerprint:
                raise WireError(
                    409,
                    "idempotency_key_reused",
                    f"Idempotency-Key {key!r} was used before with a different request; use a new key per request",
                )
            return await asyncio.shield(fut), True
        fut = asyncio.get_running_loop().create_future()
        self._entries[key] = (fingerprint, time.monotonic(), fut)
        try:
            stored = await compute()
        except BaseException as e:
            self._entries.pop(key, None)
            if not fut.done():
                fut.set_exception(e)
                fut.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        fut.set_result(stored)
        return stored, False

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class SessionRow:
    """One live rollout kept on the server between calls (an SDK session or a row of a
    :class:`RemoteEngine` state)."""

    id: str
    state: EngineState
    initial_frame_png: bytes | None
    created: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.monotonic)
    busy: bool = False
    frames_streamed: int = 0
    started_stream: bool = False

    @property
    def chunk_index(self) -> int:
        return int(self.state.chunk_index[0])


class SessionStore:
    """Session rows by id, at most ``max_rows`` of them, each expiring after ``ttl_s`` idle."""

    def __init__(self, max_rows: int = 1024, ttl_s: float = 600.0) -> None:
        self.max_rows = max_rows
        self.ttl_s = ttl_s
        self._rows: dict[str, SessionRow] = {}

    def expire(self) -> int:
        now = time.monotonic()
        old = [sid for sid, row in self._rows.items() if not row.busy and now - row.last_used > self.ttl_s]
        for sid in old:
            del self._rows[sid]
        return len(old)

    def reserve(self, n: int) -> None:
        """Check that ``n`` more rows fit (429 otherwise), after dropping expired ones."""
        self.expire()
        if len(self._rows) + n > self.max_rows:
            raise WireError(
                429,
                "too_many_sessions",
                f"the server holds {len(self._rows)} open session rows (limit {self.max_rows}); "
                f"{n} more do not fit. Close sessions you no longer use; idle ones expire after {self.ttl_s:.0f} s",
                headers={"Retry-After": "5"},
                limit=self.max_rows,
            )

    def add(self, state: EngineState, initial_frame_png: bytes | None = None) -> SessionRow:
        row = SessionRow(id=f"sess_{secrets.token_hex(16)}", state=state, initial_frame_png=initial_frame_png)
        self._rows[row.id] = row
        return row

    def get(self, sid: str) -> SessionRow:
        row = self._rows.get(sid)
        if row is not None and not row.busy and time.monotonic() - row.last_used > self.ttl_s:
            del self._rows[sid]
            row = None
        if row is None:
            raise WireError(
                404,
                "session_not_found",
                f"no open session {sid!r} on this server (closed, expired after {self.ttl_s:.0f} s idle, "
                "or the server restarted)",
            )
        row.last_used = time.monotonic()
        return row

    def close(self, sid: str) -> bool:
        return self._rows.pop(sid, None) is not None

    def __len__(self) -> int:
        return len(self._rows)


@dataclass
class StoredRollout:
    envelope: dict
    mp4: bytes | None
    done: asyncio.Future | None = None


class RolloutStore:
    """Rollouts of ``/v1/rollouts`` by id (their envelope and mp4), newest ``max_entries``."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, StoredRollout] = OrderedDict()

    def put(self, rid: str, item: StoredRollout) -> None:
        self._items[rid] = item
        self._items.move_to_end(rid)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def get(self, rid: str) -> StoredRollout:
        item = self._items.get(rid)
        if item is None:
            raise WireError(
                404, "rollout_not_found", f"no rollout {rid!r} here (the server keeps the last {self.max_entries})"
            )
        return item
