"""``predict_many``: roll a model out over every row of a source into a sink.

It streams: at most ``concurrency`` rows are decoded and in flight at a time, whatever the
source's size. On a local engine the rows go through the dynamic-batching scheduler of the
engine core (:mod:`engine.batching`) in process: rows that share a start frame encode it
once (the engine's start-frame cache) and every in-flight row, whatever its start frame,
advances in the same batched ``Engine.step``. On a ``RemoteEngine`` the rows are sent by
``concurrency`` threads and the server batches them the same way. Bad rows (an unreadable
PNG, a wrong action shape, NaN) are recorded with their reason and the run goes on
(``on_error="skip"``) or stops after the rows in flight (``"halt"``).
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..batching import Job, Scheduler
from ..hardware import numerics
from ..resolve import open_engine
from ..validation import as_guidance, as_int, as_num_steps, as_seed
from ..video import decode_mp4, encode_mp4
from .receipts import receipt
from .rows import DecodedRow, RowError, decode_row, npy_bytes, png_bytes, rows_of
from .sinks import FailedRecord, RolloutRecord, RolloutSink

DRIFT_THRESHOLD_DB = 20.0


@dataclass(frozen=True)
class FailedRow:
    """A row that produced no rollout: its id, the reason and how many attempts were made."""

    row_id: str
    error: str
    attempts: int = 1


@dataclass
class BulkResult:
    """What a :func:`predict_many` run did: counts, where the output is, the failures."""

    ok: int
    failed: int
    skipped: int
    output_uri: str
    failures: list[FailedRow] = field(default_factory=list)
    wall_s: float = 0.0
    flagged: int = 0

    @property
    def total(self) -> int:
        return self.ok + self.failed + self.skipped

    @property
    def rows_per_s(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0


class _Local:
    """Rows through an in-process scheduler."""

    def __init__(self, engine, rows: int) -> None:
        self.engine = engine
        self.scheduler = Scheduler(engine, max_rows=rows, wait_ms=0.0, max_queue=max(rows * 4, 64))

    def submit(self, row: DecodedRow, num_steps: int, guidance: float) -> Future:
        cs = self.engine.spec.chunk_size
        t, a = row.actions.shape
        job = Job(
            chunks=row.actions.reshape(1, t // cs, cs, a),
            num_steps=num_steps,
            guidance=guidance,
            start_frames=row.frame[None],
            seeds=[row.seed],
        )
        out: Future = Future()
        t0 = time.perf_counter()

        def done(f):
            try:
                res = f.result()
                out.set_result((res.frames[0], res.wall_s, time.perf_counter() - t0))
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                out.set_exception(e)

        self.scheduler.submit(job).add_done_callback(done)
        return out

    def close(self) -> None:
        self.scheduler.close()


class _Remote:
    """Rows through ``concurrency`` threads calling a RemoteEngine (the server batches)."""

    def __init__(self, engine, threads: int) -> None:
        self.engine = engine
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="predict-many")

    def submit(self, row: DecodedRow, num_steps: int, guidance: float) -> Future:
        def run():
            t0 = time.perf_counter()
            r = self.engine.predict(row.frame, row.actions, seed=row.seed, num_steps=num_steps, guidance=guidance)
            return r.frames, r.engine_wall_ms / 1000.0, time.perf_counter() - t0

        return self.pool.submit(run)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    from ..metrics import psnr

    return float(np.mean(psnr(a, b)))


def predict_many(
    model,
    source,
    sink,
    *,
    concurrency: int | None = None,
    on_error: str = "skip",
    retries: int = 1,
    progress: bool = True,
    num_steps: int | None = None,
    guidance: float | None = None,
    seed: int = 0,
    resume: bool = True,
    backend: str = "local",
    drift_threshold_db: float = DRIFT_THRESHOLD_DB,
    ray_actors: int = 2,
    ray_num_gpus: float = 0.0,
) -> BulkResult:
    """Roll ``model`` out over every row of ``source`` and write the results to ``sink``.

    model: an ``Engine``, a ``RemoteEngine``, a spec name, a checkpoint path or a server URL.
    source: rows (``row_id``, ``frame_bytes``, ``actions_bytes``, ``metadata``), e.g. the
        SDK's ``dream.io`` sources or :mod:`engine.bulk.sources`.
    sink: a sink (``RolloutSink.dir(path)``, ``RolloutSink.lerobot(path)``) or a directory.
    concurrency: rows in flight (default 32 locally, 8 against a server).
    on_error: ``"skip"`` records a failed row (with its reason) and goes on; ``"halt"`` stops
        taking rows, lets those in flight finish, finalizes the sink and raises.
    retries: extra attempts for a row whose engine call failed (bad input is not retried).
    seed: the seed of rows whose metadata has none. resume: skip rows the sink holds.
    backend: ``"local"`` (this process, or the server of a RemoteEngine) or ``"ray"``
        (``ray_actors`` actors each holding an Engine, ``ray_num_gpus`` GPUs each).
    drift_threshold_db: a perturbed row whose PSNR against its unperturbed parent is below
        this is flagged (``drift_flag``) in the metadata.
    """
    if on_error not in ("skip", "halt"):
        raise ValueError(f"on_error must be 'skip' or 'halt', got {on_error!r}")
    if backend not in ("local", "ray"):
        raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
    retries = as_int(retries, "retries", low=0, high=100)
    if isinstance(sink, str | os.PathLike):
        sink = RolloutSink.dir(sink)
    for attr in ("write", "finalize"):
        if not hasattr(sink, attr):
            raise TypeError(
                f"sink must have write() and finalize() (e.g. RolloutSink.dir(path)), got {type(sink).__name__}"
            )
    if backend == "ray":
        from .ray_backend import predict_many_ray

        return predict_many_ray(
            model, source, sink, actors=ray_actors, num_gpus=ray_num_gpus, on_error=on_error,
            num_steps=num_steps, guidance=guidance, seed=seed, resume=resume, progress=progress,
            drift_threshold_db=drift_threshold_db,
        )  # fmt: skip
    engine = open_engine(model)
    spec = engine.spec
    num_steps = as_num_steps(num_steps, spec)
    guidance = as_guidance(guidance, spec)
    seed = as_seed(seed)
    remote = not engine.runs_in_process
    if concurrency is None:
        concurrency = 8 if remote else 32
    concurrency = as_int(concurrency, "concurrency", low=1, high=4096)
    runner = _Remote(engine, concurrency) if remote else _Local(engine, concurrency)
    writer = _Writer(engine, sink, num_steps, guidance, drift_threshold_db)
    done_before = sink.done_ids() if resume and hasattr(sink, "done_ids") else set()
    seen: set[str] = set()  # row ids of this run: a second row with the same id is a failure
    total = rows_of(source)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="row", desc="predict_many", dynamic_ncols=True)
    failures: list[FailedRow] = []
    skipped = 0
    fatal: BaseException | None = None
    in_flight: dict[Future, tuple[DecodedRow, int]] = {}
    t_start = time.perf_counter()
    it = iter(source)
    exhausted = False

    def record_failure(row_id: str, error: str, attempts: int, meta: dict) -> None:
        nonlocal fatal
        failures.append(FailedRow(row_id, error, attempts))
        if hasattr(sink, "fail"):
            sink.fail(FailedRecord(row_id, error, meta))
        if on_error == "halt" and fatal is None:
            fatal = RuntimeError(f"row {row_id!r} failed: {error}")

    try:
        while True:
            while not exhausted and fatal is None and len(in_flight) < concurrency:
                try:
                    raw = next(it)
                except StopIteration:
                    exhausted = True
                    break
                rid = getattr(raw, "row_id", None)
                if isinstance(rid, str) and rid in done_before:
                    skipped += 1
                    if bar is not None:
                        bar.update(1)
                    continue
                try:
                    row = decode_row(raw, spec, seed)
                    if row.row_id in seen:
                        raise RowError(row.row_id, "row_id appears twice in the source (each row's video is its id)")
                    seen.add(row.row_id)
                except RowError as e:
                    record_failure(e.row_id, e.reason, 0, dict(getattr(raw, "metadata", None) or {}))
                    if bar is not None:
                        bar.update(1)
                    continue
                in_flight[runner.submit(row, num_steps, guidance)] = (row, 1)
            if not in_flight:
                break
            finished, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for fut in finished:
                row, attempts = in_flight.pop(fut)
                try:
                    frames, engine_s, wall_s = fut.result()
                except (ValueError, TypeError) as e:
                    record_failure(row.row_id, str(e), attempts, row.metadata)
                except Exception as e:  # noqa: BLE001 - an engine or transport failure: retry
                    if attempts <= retries and fatal is None:
                        in_flight[runner.submit(row, num_steps, guidance)] = (row, attempts + 1)
                        continue
                    record_failure(row.row_id, f"{type(e).__name__}: {e}", attempts, row.metadata)
                else:
                    try:
                        writer.write(row, frames, engine_s, wall_s)
                    except Exception as e:  # noqa: BLE001 - a sink failure stops the run
                        fatal = fatal or e
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(ok=writer.ok, failed=len(failures), refresh=False)
    finally:
        runner.close()
        if bar is not None:
            bar.close()
    return writer.finish(failures, skipped, t_start, fatal)


class _Writer:
    """Turns finished rows into records: mp4, receipt, drift against the parent row."""

    def __init__(self, engine, sink, num_steps: int, guidance: float, threshold_db: float) -> None:
        self.engine, self.sink = engine, sink
        self.num_steps, self.guidance, self.threshold = num_steps, guidance, threshold_db
        self.weights = engine.weights_sha256()
        self.device = str(getattr(engine, "device", "cpu"))
        self.threads = getattr(engine, "threads", None)
        self.deterministic = bool(getattr(engine, "deterministic", True))
        self.parents: OrderedDict[str, np.ndarray] = OrderedDict()  # parent_id -> its video
        self.pending: dict[str, list] = {}  # parent_id -> children waiting for it
        self.ok = 0
        self.flagged = 0

    def write(self, row: DecodedRow, frames: np.ndarray, engine_s: float, wall_s: float) -> None:
        video = np.concatenate([row.frame[None], frames])
        mp4 = encode_mp4(video, self.engine.spec.fps)
        meta = {f"source_{k}" if k in _RESERVED else k: v for k, v in row.metadata.items()}
        meta.update(
            receipt(
                frame=row.frame,
                actions=row.actions,
                seed=row.seed,
                num_steps=self.num_steps,
                guidance=self.guidance,
                spec_name=self.engine.spec.name,
                weights_sha256=self.weights,
                device=self.device,
                threads=self.threads,
                deterministic=self.deterministic,
                wall_ms=wall_s * 1000,
                mp4=mp4,
                numerics=numerics(self.engine),
            )
        )
        meta["engine_ms"] = round(engine_s * 1000, 1)
        meta["fps"] = self.engine.spec.fps
        inputs = {"png": png_bytes(row.frame), "npy": npy_bytes(row.actions)}
        record = RolloutRecord(row.row_id, mp4, meta, video, inputs)
        parent = row.metadata.get("parent_id")
        if parent is None or parent == row.row_id:
            if parent == row.row_id:
                self._remember(row.row_id, video)
            self._emit(record)
            for child in self.pending.pop(row.row_id, []):
                self._with_drift(child, video)
            return
        pvideo = self.parents.get(parent)
        if pvideo is None:
            pvideo = self._parent_from_sink(parent)
        if pvideo is None:
            self.pending.setdefault(parent, []).append(record)
            return
        self._with_drift(record, pvideo)

    def _remember(self, rid: str, video: np.ndarray) -> None:
        self.parents[rid] = video
        while len(self.parents) > 256:
            self.parents.popitem(last=False)

    def _parent_from_sink(self, parent: str):
        path = getattr(self.sink, "videos", None)
        if path is not None and (Path(path) / f"{parent}.mp4").exists() and parent in self.sink.done_ids():
            return decode_mp4(Path(path) / f"{parent}.mp4")
        return None

    def _with_drift(self, record: RolloutRecord, parent_video: np.ndarray) -> None:
        if parent_video.shape == record.frames.shape:
            db = psnr_db(record.frames[1:], parent_video[1:])
            record.metadata["psnr_vs_parent_db"] = round(db, 3) if np.isfinite(db) else None
            record.metadata["drift_flag"] = bool(np.isfinite(db) and db < self.threshold)
            self.flagged += int(record.metadata["drift_flag"])
        self._emit(record)

    def _emit(self, record: RolloutRecord) -> None:
        self.sink.write(record)
        self.ok += 1

    def flush_pending(self) -> None:
        """Children whose parent never finished here are written without a drift value."""
        for children in self.pending.values():
            for record in children:
                record.metadata["psnr_vs_parent_db"] = None
                record.metadata["drift_flag"] = None
                self._emit(record)
        self.pending.clear()

    def finish(self, failures: list, skipped: int, t_start: float, fatal: BaseException | None = None) -> BulkResult:
        """Write the orphaned children, finalize the sink and sum the run up (both backends end here);
        ``fatal`` (a sink failure) is raised after the sink is finalized."""
        self.flush_pending()
        uri = self.sink.finalize()
        if fatal is not None:
            raise fatal
        return BulkResult(
            ok=self.ok,
            failed=len(failures),
            skipped=skipped,
            output_uri=uri,
            failures=failures,
            wall_s=time.perf_counter() - t_start,
            flagged=self.flagged,
        )


_RESERVED = {
    "row_id", "status", "error", "mp4", "seed", "num_steps", "guidance", "spec", "weights_sha256", "frame_sha256",
    "actions_sha256", "actions_shape", "mp4_sha256", "frames", "versions", "device", "threads", "deterministic",
    "wall_ms", "engine_ms", "fps", "psnr_vs_parent_db", "drift_flag",
}  # fmt: skip
