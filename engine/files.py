"""Writing files so that a reader never sees half of one and a failure keeps the old one."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path


@functools.cache
def process_umask() -> int:
    """The process's umask, read once (os.umask can only be read by setting it, briefly)."""
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename,
    so a reader never sees a half-written file and an old file survives a failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~process_umask())  # mkstemp's file is private (0600); use open()'s mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
