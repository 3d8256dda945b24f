"""Writing files so that a reader never sees half of one and a failure keeps the old one."""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path


@functools.cache
def process_umask() -> int:
    """The process's umask, read once (os.umask can only be read by setting it, briefly)."""
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


def check_output_file(path: str | os.PathLike, name: str = "output path") -> Path:
    """``path`` as a :class:`Path` a file can be written to (its missing folders created on
    write), or a ValueError naming ``name`` and why not: the path is a directory, a parent on
    the way is a file, or the nearest existing folder is not writable. Call it before any
    expensive work; :func:`atomic_write_bytes` calls it too."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name}: {path} is a directory; expected a file path")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{name}: cannot write {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: cannot write {path}: the folder {ancestor} is not writable")
    return path


def path_inside(root: str | os.PathLike, relative: str, what: str = "path") -> Path:
    """``root / relative`` resolved, when it stays inside ``root``; a ValueError naming both
    otherwise. Paths that come from data (receipts, parquet rows, info.json templates) go
    through here: data never makes the code read or write outside its root."""
    root = Path(root).resolve()
    path = (root / str(relative)).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"{what} {str(relative)!r} leaves {root}; expected a path inside it")
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename,
    so a reader never sees a half-written file and an old file survives a failure."""
    path = check_output_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~process_umask())  # mkstemp's file is private (0600); use open()'s mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    system or filesystem cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, f"renameat2({a}, {b}, RENAME_EXCHANGE) failed: {os.strerror(err)}")


def atomic_write_dir(path: str | os.PathLike, fill: Callable[[Path], None]) -> Path:
    """Write a directory at ``path``: ``fill(tmp)`` writes into a fresh temporary folder beside
    it, every file is fsynced, then the folder takes the place of ``path``.

    Replacing an existing directory swaps the two in one step where Linux allows it
    (``renameat2(RENAME_EXCHANGE)``), so ``path`` is at every instant the old directory or the
    new one; elsewhere the old one is renamed aside first (a short window without ``path``).
    A failure in ``fill`` leaves ``path`` untouched and no temporary folder behind. A ``path``
    that exists and is not a directory is refused before anything is written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} exists and is not a directory: refusing to replace it with one")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        tmp.chmod(0o777 & ~process_umask())  # mkdtemp's folder is private (0700); use mkdir's mode
        fill(tmp)
        _fsync_tree(tmp)
        if not path.exists():
            os.rename(tmp, path)
        elif _exchange(tmp, path):
            shutil.rmtree(tmp)  # now the old directory
        else:
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def atomic_write_npz(path: str | os.PathLike, arrays: dict) -> Path:
    """Write ``arrays`` (name -> array) as a compressed ``.npz`` at ``path``, atomically."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())
