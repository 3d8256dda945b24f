"""Where each PushT frame came from, so an exact model can continue from it.

A pymunk state cannot be copied exactly into a fresh simulator mid-contact (its contact caches
are not part of the state), so an exact continuation replays the episode: the state it was
reset to (at rest) and the actions since. :class:`PushTEnv` records, for every observation it
returns, that anchor and action prefix under the frame's bytes; :class:`PushTModel` looks
frames up here. The index is per process and bounded (oldest entries go first).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Origin:
    """How to reach a frame exactly: reset to ``anchor`` (5,) at rest, then run ``actions`` (n, 2)."""

    anchor: np.ndarray
    actions: np.ndarray


def frame_key(frame: np.ndarray) -> bytes:
    f = np.ascontiguousarray(frame)
    return hashlib.sha256(f.tobytes()).digest() + repr(f.shape).encode()


class FrameIndex:
    """frame bytes -> :class:`Origin`; the newest record of a frame wins."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, Origin] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, frame: np.ndarray, anchor: np.ndarray, actions: np.ndarray) -> None:
        origin = Origin(np.array(anchor, dtype=np.float64), np.array(actions, dtype=np.float64).reshape(-1, 2))
        key = frame_key(frame)
        with self._lock:
            self._entries[key] = origin
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def origin(self, frame: np.ndarray) -> Origin | None:
        with self._lock:
            return self._entries.get(frame_key(frame))


FRAMES = FrameIndex()

__all__ = ["FRAMES", "FrameIndex", "Origin", "frame_key"]
