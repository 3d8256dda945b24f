"""Built-in sources of bulk rows (see :mod:`engine.bulk.rows` for the row shape).

* :class:`EpisodeDirSource` — a directory of ``.npz`` episode files: ``start_frame``
  (H, W, 3) + ``actions`` (T, A) for one episode, or ``frames`` (N, T + 1, H, W, 3) +
  ``actions`` (N, T, A) for N (the toy world's dataset files).
* :class:`PairDirSource` — a directory of ``<id>.png`` + ``<id>.npy`` pairs.
* :class:`PerturbedSource` — K noisy variants of every row of another source, each with
  its own seed, plus the unperturbed parent.
* ``engine.bulk.lerobot_v3.LeRobotSource`` — a local LeRobotDataset v3 directory.

Every ``__iter__`` starts afresh, reads lazily and holds one file at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..codecs import array_from_npy_bytes
from ..validation import as_int, as_real
from .rows import IterableSource, SourceRow, npy_bytes, png_bytes, rows_of


def _directory(path, what: str) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{what}: no directory at {root}")
    return root


class EpisodeDirSource(IterableSource):
    """Rows from the ``.npz`` episode files of a directory, in name order.

    Row ids are the file stem (one episode per file) or ``<stem>-<i>`` (N per file).
    ``horizon``: keep only the first ``horizon`` actions of each episode.
    """

    def __init__(self, path, *, horizon: int | None = None) -> None:
        self.root = _directory(path, "EpisodeDirSource")
        self.files = sorted(self.root.glob("*.npz"))
        if not self.files:
            raise FileNotFoundError(f"EpisodeDirSource: no .npz files in {self.root}")
        self.horizon = horizon
        total = 0
        for f in self.files:
            arrays = npz_headers(f)
            if "actions" not in arrays or not ({"start_frame", "frames"} & set(arrays)):
                raise ValueError(
                    f"{f}: an episode file needs 'actions' and 'start_frame' (or 'frames'); it has {sorted(arrays)}"
                )
            key = "start_frame" if "start_frame" in arrays else "frames"
            shape, dtype = arrays[key]
            want = "(H, W, 3)" if key == "start_frame" else "(N, T + 1, H, W, 3)"
            if dtype != np.uint8 or len(shape) != (3 if key == "start_frame" else 5) or shape[-1] != 3:
                raise ValueError(f"{f}: '{key}' must be {want} uint8 (RGB), got {shape} {dtype}")
            total += 1 if key == "start_frame" else int(arrays["actions"][0][0])
        self.rows_hint = total

    def __iter__(self) -> Iterator[SourceRow]:
        h = self.horizon
        for f in self.files:
            with np.load(f, allow_pickle=False) as d:
                if "start_frame" in d.files:
                    acts = d["actions"]
                    yield SourceRow(f.stem, png_bytes(d["start_frame"]), npy_bytes(acts[:h]), {"source": f.name})
                    continue
                frames, actions = d["frames"], d["actions"]
                for i in range(actions.shape[0]):
                    meta = {"source": f.name, "episode": i}
                    yield SourceRow(f"{f.stem}-{i}", png_bytes(frames[i][0]), npy_bytes(actions[i][:h]), meta)


def npz_headers(path: Path) -> dict[str, tuple[tuple, np.dtype]]:
    """name -> (shape, dtype) of every array of an .npz, read from the .npy headers alone (no
    data loaded); a ValueError naming the file when it is not a readable .npz."""
    import zipfile

    out = {}
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if not name.endswith(".npy"):
                    continue
                with z.open(name) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
                out[name[:-4]] = (tuple(shape), dtype)
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None
    return out


class PairDirSource(IterableSource):
    """Rows from ``<id>.png`` (start frame) + ``<id>.npy`` (actions) pairs of a directory.
    A frame without its actions (or the reverse) is an error naming every orphan."""

    def __init__(self, path) -> None:
        self.root = _directory(path, "PairDirSource")
        files = [p for p in self.root.iterdir() if p.is_file()]
        # extensions in any case (a camera's IMG_1.PNG); a stem with two of one kind is ambiguous
        frames = _by_stem([p for p in files if p.suffix.lower() == ".png"], ".png", self.root)
        actions = _by_stem([p for p in files if p.suffix.lower() == ".npy"], ".npy", self.root)
        orphans = sorted(set(frames) ^ set(actions))
        if orphans:
            raise ValueError(f"PairDirSource: {self.root} has files without their pair (.png + .npy): {orphans}")
        if not frames:
            raise FileNotFoundError(f"PairDirSource: no .png + .npy pairs in {self.root}")
        self.ids = sorted(frames)
        self.frames, self.actions = frames, actions
        self.rows_hint = len(self.ids)

    def __iter__(self) -> Iterator[SourceRow]:
        for rid in self.ids:
            yield SourceRow(rid, self.frames[rid].read_bytes(), self.actions[rid].read_bytes(), {})


def _by_stem(paths: list[Path], kind: str, root: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(paths):
        if p.stem in out:
            raise ValueError(
                f"PairDirSource: {root} holds two {kind} files for {p.stem!r}: {out[p.stem].name}, {p.name}"
            )
        out[p.stem] = p
    return out


class PerturbedSource(IterableSource):
    """For every row of ``base``: the unperturbed parent (``<id>``, ``perturbation = 0``)
    and ``k`` variants ``<id>-p<j>`` whose actions get Gaussian noise of std ``scale``
    (in action units), each with its own seed.

    correlation: 0 draws independent noise per step; in (0, 1) an AR(1) process
    ``n[t] = correlation * n[t-1] + sqrt(1 - correlation**2) * e[t]`` (same std, smoother).
    Noisy actions are clipped to ``[low, high]`` when given. Metadata: ``parent_id``,
    ``perturbation`` (the scale), ``variant`` (0 for the parent), ``seed`` (the row's
    engine seed: ``seed + variant``), and the base row's metadata.
    """

    def __init__(
        self,
        base,
        *,
        k: int = 4,
        scale: float = 0.05,
        seed: int = 0,
        correlation: float = 0.0,
        low: float | None = None,
        high: float | None = None,
        include_parent: bool = True,
    ) -> None:
        k = as_int(k, "k", low=1, high=1024)
        if not isinstance(scale, int | float) or not np.isfinite(scale) or scale < 0:
            raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
        if not isinstance(correlation, int | float) or not 0 <= correlation < 1:
            raise ValueError(f"correlation must be in [0, 1), got {correlation!r}")
        low = None if low is None else as_real(low, "low")
        high = None if high is None else as_real(high, "high")
        if low is not None and high is not None and not low < high:
            raise ValueError(f"low must be below high to clip actions to [low, high], got low={low}, high={high}")
        self.base, self.k, self.scale, self.seed = base, k, float(scale), int(seed)
        self.correlation, self.low, self.high = float(correlation), low, high
        self.include_parent = include_parent
        n = rows_of(base)
        self.rows_hint = None if n is None else n * (k + int(include_parent))

    def noise(self, row_index: int, variant: int, shape: tuple) -> np.ndarray:
        rng = np.random.default_rng([self.seed, row_index, variant])
        e = rng.standard_normal(shape)
        if self.correlation:
            c, out = self.correlation, np.empty_like(e)
            out[0] = e[0]
            for t in range(1, shape[0]):
                out[t] = c * out[t - 1] + np.sqrt(1 - c * c) * e[t]
            e = out
        return (self.scale * e).astype(np.float32)

    def __iter__(self) -> Iterator[SourceRow]:
        for i, row in enumerate(self.base):
            meta = dict(getattr(row, "metadata", None) or {})
            base_seed = int(meta.get("seed", self.seed))
            if self.include_parent:
                pm = {**meta, "parent_id": row.row_id, "variant": 0, "perturbation": 0.0, "seed": base_seed}
                yield SourceRow(row.row_id, row.frame_bytes, row.actions_bytes, pm)
            try:
                acts = array_from_npy_bytes(row.actions_bytes).astype(np.float32)
            except ValueError:
                continue  # the parent row carries (and reports) the bad actions
            for j in range(1, self.k + 1):
                noisy = acts + self.noise(i, j, acts.shape)
                if self.low is not None or self.high is not None:
                    noisy = np.clip(noisy, self.low, self.high)
                vm = {**meta, "parent_id": row.row_id, "variant": j, "perturbation": self.scale, "seed": base_seed + j}
                yield SourceRow(f"{row.row_id}-p{j}", row.frame_bytes, npy_bytes(noisy), vm)
