"""Where bulk results go: ``RolloutSink.dir(path)`` (mp4s + ``metadata.parquet``), and the
LeRobot v3 writer (:mod:`engine.bulk.lerobot_v3`).

Crash safety of the directory sink. Each mp4 is written to a temporary name, fsynced and
renamed into ``videos/<row_id>.mp4``; only then is the row's metadata appended, as one JSON
line, to ``metadata.jsonl`` and fsynced. ``metadata.parquet`` is rebuilt from that journal
(to a temporary file, renamed into place) every ``flush_every`` rows and at the end. A
SIGKILL at any moment therefore leaves whole mp4s, a journal whose last line at worst is
torn (ignored on reading), and the previous complete parquet. A re-run with ``resume=True``
skips the rows the journal holds as done and rewrites nothing else twice: rows are keyed
by ``row_id``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..files import atomic_write_bytes


@dataclass
class RolloutRecord:
    """One finished row for a sink (the SDK's ``RolloutRecord`` fields, plus the raw frames).

    frames: (T + 1, H, W, 3) uint8, the start frame and the predictions (what the mp4 holds).
    inputs: ``{"png": start frame, "npy": actions}`` as run (what ``verify`` re-runs).
    """

    row_id: str
    mp4_bytes: bytes
    metadata: dict[str, Any]
    frames: Any = None
    inputs: dict | None = None


@dataclass
class FailedRecord:
    row_id: str
    error: str
    metadata: dict[str, Any] = field(default_factory=dict)


class RolloutSink:
    """Base of sinks: ``write(record)``, ``fail(record)``, ``done_ids()``, ``finalize()``."""

    @staticmethod
    def dir(path, *, flush_every: int = 64) -> DirSink:
        """``videos/<row_id>.mp4`` + ``metadata.parquet`` under ``path``."""
        return DirSink(path, flush_every=flush_every)

    @staticmethod
    def lerobot(path, **kw):
        """A LeRobot v3 dataset under ``path`` (see :class:`engine.bulk.lerobot_v3.LeRobotSink`)."""
        from .lerobot_v3 import LeRobotSink

        return LeRobotSink(path, **kw)

    def done_ids(self) -> set[str]:
        return set()

    def write(self, record: RolloutRecord) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def fail(self, record: FailedRecord) -> None:
        pass

    def finalize(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


def _flat(value):
    """A parquet-friendly value: scalars as they are, anything else as JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def read_journal(path: Path) -> list[dict]:
    """The JSON lines of a journal; a torn last line (a crash mid-append) is dropped."""
    if not path.exists():
        return []
    out = []
    with open(path, "rb") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


class DirSink(RolloutSink):
    """``videos/<row_id>.mp4``, ``inputs/<row_id>.png`` / ``.npy`` (the inputs as run) and
    ``metadata.parquet`` (one row per rollout, failures too, with their reason)."""

    def __init__(self, path, *, flush_every: int = 64) -> None:
        self.root = Path(path)
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"sink path {self.root} exists and is not a directory")
        self.videos = self.root / "videos"
        self.videos.mkdir(parents=True, exist_ok=True)
        self.inputs = self.root / "inputs"
        self.journal = self.root / "metadata.jsonl"
        self.parquet = self.root / "metadata.parquet"
        self.flush_every = flush_every
        self._since_flush = 0
        self._fh = None

    def done_ids(self) -> set[str]:
        done = set()
        for rec in read_journal(self.journal):
            if rec.get("status") == "ok" and (self.videos / f"{rec['row_id']}.mp4").exists():
                done.add(rec["row_id"])
        return done

    def _append(self, rec: dict) -> None:
        if self._fh is None:
            self._fh = open(self.journal, "ab")
            # a torn line from a crash must not glue itself to the next record
            if self._fh.tell() and not self.journal.read_bytes().endswith(b"\n"):
                self._fh.write(b"\n")
        self._fh.write((json.dumps(rec, sort_keys=True, default=str) + "\n").encode())
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._since_flush += 1
        if self._since_flush >= self.flush_every:
            self.write_parquet()

    def write(self, record: RolloutRecord) -> None:
        inputs = getattr(record, "inputs", None)
        if inputs:
            self.inputs.mkdir(exist_ok=True)
            atomic_write_bytes(self.inputs / f"{record.row_id}.png", inputs["png"])
            atomic_write_bytes(self.inputs / f"{record.row_id}.npy", inputs["npy"])
        atomic_write_bytes(self.videos / f"{record.row_id}.mp4", record.mp4_bytes)
        rec = {"row_id": record.row_id, "status": "ok", "mp4": f"videos/{record.row_id}.mp4"}
        rec.update({k: _flat(v) for k, v in record.metadata.items() if k not in rec})
        self._append(rec)

    def fail(self, record: FailedRecord) -> None:
        rec = {"row_id": record.row_id, "status": "failed", "error": record.error}
        rec.update({k: _flat(v) for k, v in record.metadata.items() if k not in rec})
        self._append(rec)

    def records(self) -> list[dict]:
        """One record per row_id (the latest; a success wins over an earlier failure)."""
        latest: dict[str, dict] = {}
        for rec in read_journal(self.journal):
            prev = latest.get(rec["row_id"])
            if prev is not None and prev.get("status") == "ok" and rec.get("status") != "ok":
                continue
            latest[rec["row_id"]] = rec
        return list(latest.values())

    def write_parquet(self) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        recs = self.records()
        keys = sorted({k for r in recs for k in r})
        cols = {k: [_flat(r.get(k)) for r in recs] for k in keys}
        # a column whose values mix kinds is stored as text
        for k, vals in cols.items():
            kinds = {type(v) for v in vals if v is not None}
            if len(kinds) > 1 and not kinds <= {int, float}:
                cols[k] = [None if v is None else str(v) for v in vals]
        table = pa.table(cols) if recs else pa.table({"row_id": pa.array([], pa.string())})
        tmp = self.parquet.with_name(f".{self.parquet.name}.{os.getpid()}.tmp")
        pq.write_table(table, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.parquet)
        self._since_flush = 0
        return self.parquet

    def finalize(self) -> str:
        self.write_parquet()
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        return str(self.root.resolve())
