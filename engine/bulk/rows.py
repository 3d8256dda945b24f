"""Rows of a bulk job, in the shape the Dream Engine SDK uses (``dream.io.SourceRow``).

A source is any iterable of rows with ``row_id`` (str), ``frame_bytes`` (PNG/JPEG),
``actions_bytes`` (.npy, (T, action_dim)) and ``metadata`` (dict); it may say how many
rows it holds with ``rows_hint`` or ``len()``. The SDK's own ``SourceRow`` and
``IterableSource`` objects are such rows and sources, so they work here unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..codecs import array_from_npy_bytes, image_from_bytes, npy_bytes, png_bytes
from ..specs import ModelSpec
from ..validation import as_actions, as_frame, as_seed

__all__ = ["DecodedRow", "IterableSource", "RowError", "SourceRow", "decode_row", "npy_bytes", "png_bytes", "rows_of"]

ROW_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")  # whole-string (fullmatch): '$' would let "id\n" in


@dataclass(frozen=True)
class SourceRow:
    """One input row: a start frame and an action sequence, encoded, plus free metadata.

    ``metadata`` may carry ``seed`` (this row's seed, overriding the run's), ``parent_id``
    (the unperturbed row it was derived from) and anything else, copied to the output.
    """

    row_id: str
    frame_bytes: bytes
    actions_bytes: bytes
    metadata: dict[str, Any] = field(default_factory=dict)


class IterableSource:
    """Base of sources: ``__iter__`` yields rows, afresh on every call; ``rows_hint`` (or
    ``len()``) says how many when known."""

    rows_hint: int | None = None

    def __iter__(self) -> Iterator[SourceRow]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __len__(self) -> int:
        if self.rows_hint is None:
            raise TypeError(f"{type(self).__name__} does not know its length")
        return self.rows_hint


def rows_of(source) -> int | None:
    """How many rows a source says it has (``rows_hint``, else ``len()``), or None."""
    hint = getattr(source, "rows_hint", None)
    if hint is not None:
        return int(hint)
    try:
        return len(source)
    except TypeError:
        return None


class RowError(ValueError):
    """A row that cannot be run, with the reason (recorded as a failure under on_error="skip")."""

    def __init__(self, row_id: str, message: str) -> None:
        super().__init__(f"row {row_id!r}: {message}")
        self.row_id = row_id
        self.reason = message


@dataclass
class DecodedRow:
    """A validated row: frame (H, W, 3) uint8, actions (T, A) float32, its seed."""

    row_id: str
    frame: np.ndarray
    actions: np.ndarray
    seed: int
    metadata: dict
    frame_bytes: bytes
    actions_bytes: bytes


def decode_row(row, spec: ModelSpec, default_seed: int) -> DecodedRow:
    """Check one row against ``spec`` before any engine work (RowError with the reason)."""
    for attr in ("row_id", "frame_bytes", "actions_bytes"):
        if not hasattr(row, attr):
            raise RowError(
                str(getattr(row, "row_id", "?")),
                f"a row needs the attributes row_id, frame_bytes and actions_bytes (an engine.bulk.SourceRow "
                f"or the SDK's); got a {type(row).__name__} without {attr}",
            )
    rid = row.row_id
    if not isinstance(rid, str) or not ROW_ID.fullmatch(rid):
        shown = repr(rid) if isinstance(rid, str) and len(rid) <= 60 else f"a {type(rid).__name__}"
        raise RowError(
            str(rid), f"row_id must be 1-200 characters of [A-Za-z0-9._-], not starting with '.' or '-'; got {shown}"
        )
    meta = dict(getattr(row, "metadata", None) or {})
    try:
        frame = as_frame(image_from_bytes(row.frame_bytes, name="frame"), spec, name="frame")
        actions = as_actions(array_from_npy_bytes(row.actions_bytes, name="actions"), spec)
        seed = as_seed(meta.get("seed", default_seed), name="seed")
    except (ValueError, TypeError) as e:
        raise RowError(rid, str(e)) from None
    return DecodedRow(rid, frame, actions, seed, meta, bytes(row.frame_bytes), bytes(row.actions_bytes))
