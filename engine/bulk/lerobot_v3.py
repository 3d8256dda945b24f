"""LeRobotDataset v3 in and out: a source reading a local dataset directory, and a sink
writing rollouts as one.

The layout (LeRobot ``CODEBASE_VERSION = "v3.0"``)::

    meta/info.json                                   codebase_version, fps, features, totals, path templates
    meta/stats.json                                  per-feature min/max/mean/std/count
    meta/tasks.parquet                               task strings (index) -> task_index
    meta/episodes/chunk-000/file-000.parquet         one row per episode: episode_index, tasks, length,
                                                     data/chunk_index, data/file_index, dataset_from_index,
                                                     dataset_to_index, videos/<key>/{chunk,file}_index,
                                                     videos/<key>/{from,to}_timestamp, meta/episodes/...
    data/chunk-XXX/file-YYY.parquet                  frames: action, timestamp, frame_index, episode_index,
                                                     index, task_index, next.done
    videos/<key>/chunk-XXX/file-YYY.mp4              h.264 frames (several episodes per file allowed)

The sink writes one data file and one video file per episode (allowed by the format: each
episode row says where its frames are), each written atomically, so an interrupted run
resumes; ``meta/`` is rewritten atomically from a journal at the end.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..files import atomic_write_bytes, path_inside
from ..video import decode_mp4, encode_mp4
from .rows import IterableSource, SourceRow, npy_bytes, png_bytes
from .sinks import FailedRecord, RolloutRecord, RolloutSink, read_journal

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
CHUNKS_SIZE = 1000


def _parquet_bytes(table) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


# --- reading ---------------------------------------------------------------------------------
class LeRobotDataset:
    """A minimal reader of a local LeRobotDataset v3 directory (ours, for sources and tests).

    ``info`` (meta/info.json), ``episodes`` (list of episode dicts), ``video_keys``;
    :meth:`frames` and :meth:`data` of one episode.
    """

    def __init__(self, root) -> None:
        self.root = Path(root)
        info_path = self.root / "meta" / "info.json"
        if not info_path.is_file():
            raise FileNotFoundError(f"{self.root} is not a LeRobot dataset: no meta/info.json")
        try:
            self.info = json.loads(info_path.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            raise ValueError(f"{info_path} is not valid JSON ({e}); expected LeRobot's info.json object") from None
        if not isinstance(self.info, dict) or not isinstance(self.info.get("features"), dict):
            raise ValueError(f"{info_path} must be a JSON object with a 'features' mapping (LeRobot's info.json)")
        version = str(self.info.get("codebase_version", ""))
        if not version.startswith("v3"):
            raise ValueError(f"{self.root}: codebase_version {version!r}; this reader reads v3.x datasets")
        import pyarrow.parquet as pq

        files = sorted((self.root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        if not files:
            raise FileNotFoundError(f"{self.root}: no meta/episodes/chunk-*/file-*.parquet")
        rows = []
        for f in files:
            try:
                rows += pq.read_table(f).to_pylist()
            except Exception as e:  # noqa: BLE001 - pyarrow raises several kinds for a corrupt file
                raise ValueError(f"{f} is not a readable parquet file ({type(e).__name__}: {e})") from None
        if any("episode_index" not in r for r in rows):
            raise ValueError(f"{self.root}: meta/episodes rows must have an 'episode_index' column")
        self.episodes = sorted(rows, key=lambda e: e["episode_index"])
        self.video_keys = [k for k, f in self.info["features"].items() if f.get("dtype") == "video"]
        self._data_cache: tuple[Path, object] | None = None

    def _path(self, template: str, **kw) -> Path:
        """A file named by info.json's ``template``; data never names a file outside the dataset."""
        try:
            rel = str(template).format(**kw)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(
                f"{self.root}/meta/info.json: path template {template!r} cannot be filled ({e!r})"
            ) from None
        return path_inside(
            self.root, rel, f"{self.root}/meta/info.json: path template {template!r} names a file outside the dataset:"
        )

    def data(self, ep: dict):
        """The frames table of episode ``ep`` (pyarrow), rows ``dataset_from_index`` to ``dataset_to_index``."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        path = self._path(
            self.info.get("data_path", DATA_PATH), chunk_index=ep["data/chunk_index"], file_index=ep["data/file_index"]
        )
        if self._data_cache is None or self._data_cache[0] != path:
            self._data_cache = (path, pq.read_table(path))
        table = self._data_cache[1]
        return table.filter(pc.equal(table["episode_index"], ep["episode_index"]))

    def frames(self, ep: dict, key: str | None = None) -> np.ndarray:
        """Decoded video frames (length, H, W, 3) uint8 of episode ``ep`` for ``key``."""
        key = key or self.video_keys[0]
        path = self._path(
            self.info.get("video_path", VIDEO_PATH),
            video_key=key,
            chunk_index=ep[f"videos/{key}/chunk_index"],
            file_index=ep[f"videos/{key}/file_index"],
        )
        video = decode_mp4(path)
        start = int(round(float(ep[f"videos/{key}/from_timestamp"]) * self.info["fps"]))
        return video[start : start + int(ep["length"])]


class LeRobotSource(IterableSource):
    """Rows from a local LeRobotDataset v3: each episode's first frame of ``video_key`` and
    its ``action_key`` column.

    action_map: how dataset actions become the spec's: None (identity: the widths must
        match), a list of column indices, or a callable (T, D) -> (T, action_dim).
    horizon: keep this many actions (default: the longest multiple of ``chunk_size``).
    chunk_size: the model's chunk size (for the default horizon; pass ``engine.spec.chunk_size``).
    """

    def __init__(
        self,
        root,
        *,
        video_key: str | None = None,
        action_key: str = "action",
        action_map=None,
        horizon: int | None = None,
        chunk_size: int | None = None,
        episodes: list[int] | None = None,
    ) -> None:
        self.ds = LeRobotDataset(root)
        if not self.ds.video_keys:
            raise ValueError(f"{root}: the dataset has no video feature to take start frames from")
        self.video_key = video_key or self.ds.video_keys[0]
        if self.video_key not in self.ds.video_keys:
            raise ValueError(f"video_key {self.video_key!r} is not a video feature of {root}: {self.ds.video_keys}")
        if action_key not in self.ds.info["features"]:
            raise ValueError(
                f"action_key {action_key!r} is not a feature of {root}: {sorted(self.ds.info['features'])}"
            )
        self.action_key, self.action_map = action_key, action_map
        self.horizon, self.chunk_size = horizon, chunk_size
        eps = self.ds.episodes
        if episodes is not None:
            wanted = set(episodes)
            eps = [e for e in eps if e["episode_index"] in wanted]
        self.eps = eps
        self.rows_hint = len(eps)

    def _actions(self, ep: dict) -> np.ndarray:
        col = self.ds.data(ep)[self.action_key].to_pylist()
        acts = np.asarray(col, dtype=np.float32).reshape(len(col), -1)
        if callable(self.action_map):
            acts = np.asarray(self.action_map(acts), dtype=np.float32)
        elif self.action_map is not None:
            acts = acts[:, list(self.action_map)]
        t = len(acts)
        if self.horizon is not None:
            t = min(t, self.horizon)
        elif self.chunk_size:
            t = t // self.chunk_size * self.chunk_size
        return acts[:t]

    def __iter__(self) -> Iterator[SourceRow]:
        for ep in self.eps:
            idx = int(ep["episode_index"])
            frame = self.ds.frames({**ep, "length": 1}, self.video_key)[0]
            tasks = ep.get("tasks") or []
            meta = {"episode_index": idx, "task": tasks[0] if tasks else None}
            yield SourceRow(f"ep{idx:06d}", png_bytes(frame), npy_bytes(self._actions(ep)), meta)


# --- writing ---------------------------------------------------------------------------------
class LeRobotSink(RolloutSink):
    """Rollouts as a LeRobotDataset v3: one episode per rollout (the start frame and the T
    predicted frames; frame t carries action t, the last frame repeats the last action and
    has ``next.done`` set).

    Args:
        path: the dataset directory. video_key: the camera feature's name.
        task: the task string of every episode (or the row metadata's ``task``).
        fps: frames per second (default: the spec's, from the first record's metadata).
    """

    def __init__(
        self,
        path,
        *,
        video_key: str = "observation.images.main",
        task: str = "world-model rollout",
        fps: int | None = None,
    ) -> None:
        self.root = Path(path)
        self.root.mkdir(parents=True, exist_ok=True)
        self.video_key, self.task, self.fps = video_key, task, fps
        self.journal = self.root / "meta" / "episodes.jsonl"
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        self._episodes = {e["row_id"]: e for e in read_journal(self.journal)}
        self._fh = None

    def done_ids(self) -> set[str]:
        return {rid for rid, e in self._episodes.items() if (self.root / e["data_file"]).exists()}

    def write(self, record: RolloutRecord) -> None:
        import pyarrow as pa

        if record.frames is None:
            raise ValueError("the LeRobot sink needs the frames of each record")
        if record.row_id in self._episodes:
            ep_index = self._episodes[record.row_id]["episode_index"]
        else:
            ep_index = len(self._episodes)
        frames = np.asarray(record.frames)
        from ..codecs import array_from_npy_bytes

        actions = array_from_npy_bytes(record.inputs["npy"]) if record.inputs else None
        if actions is None:
            raise ValueError("the LeRobot sink needs the actions of each record (record.inputs['npy'])")
        n = len(frames)
        acts = np.concatenate([actions, actions[-1:]]).astype(np.float32)
        fps = self.fps or int(record.metadata.get("fps", 10))
        self.fps = fps
        task = str(record.metadata.get("task") or self.task)
        chunk, file = divmod(ep_index, CHUNKS_SIZE)
        data_file = DATA_PATH.format(chunk_index=chunk, file_index=file)
        video_file = VIDEO_PATH.format(video_key=self.video_key, chunk_index=chunk, file_index=file)
        atomic_write_bytes(self.root / video_file, encode_mp4(frames, fps))
        table = pa.table(
            {
                "action": pa.array(list(acts), type=pa.list_(pa.float32(), acts.shape[1])),
                "timestamp": pa.array(np.arange(n, dtype=np.float32) / fps),
                "frame_index": pa.array(np.arange(n, dtype=np.int64)),
                "episode_index": pa.array(np.full(n, ep_index, dtype=np.int64)),
                "index": pa.array(np.zeros(n, dtype=np.int64)),  # global indices are fixed in finalize
                "task_index": pa.array(np.zeros(n, dtype=np.int64)),
                "next.done": pa.array(np.arange(n) == n - 1),
            }
        )
        atomic_write_bytes(self.root / data_file, _parquet_bytes(table))
        stats = {
            "action": _stats(acts),
            self.video_key: _image_stats(frames),
        }
        entry = {
            "row_id": record.row_id,
            "episode_index": ep_index,
            "length": n,
            "task": task,
            "data_file": data_file,
            "video_file": video_file,
            "action_dim": int(acts.shape[1]),
            "shape": list(frames.shape[1:]),
            "stats": stats,
            "receipt": {
                k: v for k, v in record.metadata.items() if isinstance(v, str | int | float | bool) or v is None
            },
        }
        self._episodes[record.row_id] = entry
        if self._fh is None:
            self._fh = open(self.journal, "ab")
        self._fh.write((json.dumps(entry, sort_keys=True) + "\n").encode())
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def fail(self, record: FailedRecord) -> None:
        with open(self.root / "meta" / "failures.jsonl", "ab") as f:
            f.write((json.dumps({"row_id": record.row_id, "error": record.error}) + "\n").encode())

    def finalize(self) -> str:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._fh is not None:
            self._fh.close()
            self._fh = None
        eps = sorted(self._episodes.values(), key=lambda e: e["episode_index"])
        tasks = sorted({e["task"] for e in eps})
        task_index = {t: i for i, t in enumerate(tasks)}
        offset, rows = 0, []
        key = self.video_key
        for e in eps:
            chunk, file = divmod(e["episode_index"], CHUNKS_SIZE)
            # global frame indices and task indices: rewrite the episode's data file if needed
            path = self.root / e["data_file"]
            table = pq.read_table(path)
            want_index = np.arange(offset, offset + e["length"], dtype=np.int64)
            want_task = np.full(e["length"], task_index[e["task"]], dtype=np.int64)
            if not (
                np.array_equal(table["index"].to_numpy(), want_index)
                and np.array_equal(table["task_index"].to_numpy(), want_task)
            ):
                table = table.set_column(table.schema.get_field_index("index"), "index", pa.array(want_index))
                table = table.set_column(table.schema.get_field_index("task_index"), "task_index", pa.array(want_task))
                atomic_write_bytes(path, _parquet_bytes(table))
            row = {
                "episode_index": e["episode_index"],
                "tasks": [e["task"]],
                "length": e["length"],
                "data/chunk_index": chunk,
                "data/file_index": file,
                "dataset_from_index": offset,
                "dataset_to_index": offset + e["length"],
                f"videos/{key}/chunk_index": chunk,
                f"videos/{key}/file_index": file,
                f"videos/{key}/from_timestamp": 0.0,
                f"videos/{key}/to_timestamp": e["length"] / self.fps,
                "meta/episodes/chunk_index": 0,
                "meta/episodes/file_index": 0,
                "row_id": e["row_id"],
                "receipt": json.dumps(e["receipt"], sort_keys=True),
            }
            for feat, st in e["stats"].items():
                for name, val in st.items():
                    row[f"stats/{feat}/{name}"] = val
            rows.append(row)
            offset += e["length"]
        if rows:
            atomic_write_bytes(
                self.root / EPISODES_PATH.format(chunk_index=0, file_index=0),
                _parquet_bytes(pa.Table.from_pylist(rows)),
            )
        tasks_table = pa.table({"task_index": pa.array(list(range(len(tasks))), pa.int64()), "task": tasks})
        atomic_write_bytes(self.root / "meta" / "tasks.parquet", _parquet_bytes(tasks_table))
        h, w, c = eps[0]["shape"] if eps else (0, 0, 3)
        a = eps[0]["action_dim"] if eps else 0
        features = {
            "action": {"dtype": "float32", "shape": [a], "names": [f"a{i}" for i in range(a)]},
            key: {
                "dtype": "video",
                "shape": [h, w, c],
                "names": ["height", "width", "channels"],
                "info": {
                    "video.height": h,
                    "video.width": w,
                    "video.codec": "h264",
                    "video.pix_fmt": "yuv420p",
                    "video.is_depth_map": False,
                    "video.fps": self.fps,
                    "video.channels": c,
                    "has_audio": False,
                },
            },
            "timestamp": {"dtype": "float32", "shape": [1], "names": None},
            "frame_index": {"dtype": "int64", "shape": [1], "names": None},
            "episode_index": {"dtype": "int64", "shape": [1], "names": None},
            "index": {"dtype": "int64", "shape": [1], "names": None},
            "task_index": {"dtype": "int64", "shape": [1], "names": None},
            "next.done": {"dtype": "bool", "shape": [1], "names": None},
        }
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": None,
            "total_episodes": len(eps),
            "total_frames": offset,
            "total_tasks": len(tasks),
            "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": 100,
            "video_files_size_in_mb": 200,
            "fps": self.fps or 10,
            "splits": {"train": f"0:{len(eps)}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH,
            "features": features,
        }
        atomic_write_bytes(self.root / "meta" / "info.json", (json.dumps(info, indent=4) + "\n").encode())
        atomic_write_bytes(self.root / "meta" / "stats.json", (json.dumps(_merge_stats(eps), indent=2) + "\n").encode())
        return str(self.root.resolve())


def episodes_to_lerobot(episodes, out, *, task: str, fps: int = 10, prefix: str = "episode") -> str:
    """Write an episode file as a LeRobotDataset v3 through :class:`LeRobotSink`.

    Args:
        episodes: an .npz path or a mapping with ``frames`` (N, T+1, H, W, 3) uint8 and
            ``actions`` (N, T, A) float32, optionally ``seeds`` (N,) (the row ids use them).
        out: the dataset directory; a re-run skips the episodes already written.
        task: the task string of every episode. fps: frames per second.
        prefix: row ids are ``<prefix>-<seed or index>`` (kept in the episodes table).

    Returns the dataset directory.
    """
    from .sinks import RolloutRecord

    data = dict(np.load(episodes)) if isinstance(episodes, str | os.PathLike) else dict(episodes)
    frames, actions = data.get("frames"), data.get("actions")
    if frames is None or actions is None:
        raise ValueError(f"episodes need 'frames' and 'actions' arrays, got {sorted(data)}")
    frames, actions = np.asarray(frames), np.asarray(actions)
    if frames.dtype != np.uint8 or frames.ndim != 5 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (N, T+1, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    if actions.ndim != 3 or actions.shape[:2] != (frames.shape[0], frames.shape[1] - 1):
        raise ValueError(
            f"actions must be (N, T, A) = ({frames.shape[0]}, {frames.shape[1] - 1}, A), got {actions.shape}"
        )
    ids = data.get("seeds", np.arange(len(frames)))
    sink = LeRobotSink(out, task=task, fps=fps)
    done = sink.done_ids()
    for i, key in enumerate(np.asarray(ids).tolist()):
        row_id = f"{prefix}-{key}"
        if row_id in done:
            continue
        meta = {"fps": fps, "task": task, "source_index": i}
        sink.write(RolloutRecord(row_id, b"", meta, frames=frames[i], inputs={"npy": npy_bytes(actions[i])}))
    return sink.finalize()


def _stats(x: np.ndarray) -> dict:
    x = np.asarray(x, dtype=np.float64)
    return {
        "min": x.min(0).tolist(),
        "max": x.max(0).tolist(),
        "mean": x.mean(0).tolist(),
        "std": x.std(0).tolist(),
        "count": [int(len(x))],
    }


def _image_stats(frames: np.ndarray) -> dict:
    """Per-channel stats of frames (N, H, W, 3) in [0, 1], shaped (3, 1, 1) as LeRobot stores them."""
    x = frames.reshape(-1, frames.shape[-1]).astype(np.float64) / 255.0
    st = _stats(x)
    return {k: [[[v]] for v in vals] if k != "count" else [int(len(frames))] for k, vals in st.items()}


def _merge_stats(eps: list[dict]) -> dict:
    """Dataset stats from per-episode ones (count-weighted mean and pooled std)."""
    out = {}
    feats = eps[0]["stats"].keys() if eps else []
    for feat in feats:
        sts = [e["stats"][feat] for e in eps]
        n = np.array([s["count"][0] for s in sts], dtype=np.float64)
        mean = np.array([s["mean"] for s in sts], dtype=np.float64)
        std = np.array([s["std"] for s in sts], dtype=np.float64)
        w = (n / n.sum()).reshape(-1, *([1] * (mean.ndim - 1)))
        m = (w * mean).sum(0)
        var = (w * (std**2 + (mean - m) ** 2)).sum(0)
        out[feat] = {
            "min": np.min([s["min"] for s in sts], axis=0).tolist(),
            "max": np.max([s["max"] for s in sts], axis=0).tolist(),
            "mean": m.tolist(),
            "std": np.sqrt(var).tolist(),
            "count": [int(n.sum())],
        }
    return out
