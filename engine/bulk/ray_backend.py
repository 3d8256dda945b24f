"""``predict_many(..., backend="ray")``: the same run on a Ray cluster, with Ray Data.

The rows (their encoded bytes) become a Ray Dataset; ``map_batches`` runs them through a
pool of ``actors`` actors, each loading one Engine (``num_gpus`` each on a GPU cluster) and
rolling its rows out one by one; the driver streams the
results back and writes them to the sink, so the output (mp4s, receipts, parquet) is the
same as a local run's. Rows are validated on the driver first, so bad rows are recorded
exactly as locally. Unlike the local backend, the inputs of the run are held by Ray at once
(the outputs still stream).

    ray start --head                     # or an existing cluster: RAY_ADDRESS=...
    predict_many("dreamdojo-2b-gr1", source, sink, backend="ray", ray_actors=8, ray_num_gpus=1)
"""

from __future__ import annotations

import time

import numpy as np

from ..validation import as_int
from .rows import RowError, decode_row
from .run import BulkResult, FailedRow, _Writer
from .sinks import FailedRecord


class _EngineActor:
    """One Engine per actor; a batch of rows in, their predicted frames out."""

    def __init__(self, model, num_steps, guidance) -> None:
        from engine import open_engine

        self.engine = open_engine(model)
        self.num_steps, self.guidance = num_steps, guidance

    def __call__(self, batch: dict) -> dict:
        frames_out, wall = [], []
        for frame_b, acts_b, seed in zip(batch["frame"], batch["actions"], batch["seed"], strict=True):
            frame = np.frombuffer(frame_b, np.uint8).reshape(self.engine.spec.resolution + (3,))
            acts = np.frombuffer(acts_b, np.float32).reshape(-1, self.engine.spec.action_dim)
            t0 = time.perf_counter()
            r = self.engine.predict(frame, acts, seed=int(seed), num_steps=self.num_steps, guidance=self.guidance)
            wall.append(time.perf_counter() - t0)
            frames_out.append(r.frames.tobytes())
        return {"row_id": batch["row_id"], "frames": np.array(frames_out, dtype=object), "wall_s": np.array(wall)}


def predict_many_ray(
    model, source, sink, *, actors, num_gpus, on_error, num_steps, guidance, seed, resume, progress, drift_threshold_db
) -> BulkResult:
    try:
        import ray
    except ImportError:
        raise ImportError("backend='ray' needs Ray: pip install 'dreamgym[ray]'") from None
    from ..resolve import open_engine
    from ..validation import as_guidance, as_num_steps, as_seed

    if not isinstance(model, str):
        raise TypeError("backend='ray' takes the model by name or checkpoint path (each actor loads its own Engine)")
    actors = as_int(actors, "ray_actors", low=1)
    local = open_engine(model)  # the driver's copy: spec, receipts' weights hash (no rollouts)
    spec = local.spec
    num_steps, guidance, seed = as_num_steps(num_steps, spec), as_guidance(guidance, spec), as_seed(seed)
    t_start = time.perf_counter()
    done_before = sink.done_ids() if resume and hasattr(sink, "done_ids") else set()
    rows, failures, skipped = {}, [], 0
    for raw in source:
        if getattr(raw, "row_id", None) in done_before:
            skipped += 1
            continue
        try:
            row = decode_row(raw, spec, seed)
        except RowError as e:
            failures.append(FailedRow(e.row_id, e.reason, 0))
            if hasattr(sink, "fail"):
                sink.fail(FailedRecord(e.row_id, e.reason, dict(getattr(raw, "metadata", None) or {})))
            if on_error == "halt":
                sink.finalize()
                raise RuntimeError(f"row {e.row_id!r} failed: {e.reason}") from None
            continue
        rows[row.row_id] = row
    writer = _Writer(local, sink, num_steps, guidance, drift_threshold_db)
    writer.device = f"ray: {actors} actors" + (f" x {num_gpus} GPU" if num_gpus else " on CPU")
    if rows:
        if not progress:
            import logging

            logging.getLogger("ray.data").setLevel(logging.WARNING)
            ray.data.DataContext.get_current().enable_progress_bars = False
        started = not ray.is_initialized()  # connects to RAY_ADDRESS if set, else starts a local cluster
        if started:
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            items = [
                {"row_id": r.row_id, "frame": r.frame.tobytes(), "actions": r.actions.tobytes(), "seed": r.seed}
                for r in rows.values()
            ]
            ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), actors * 4)))
            out = ds.map_batches(
                _EngineActor,
                fn_constructor_args=(model, num_steps, guidance),
                batch_size=4,
                concurrency=actors,
                num_gpus=num_gpus or None,
            )
            h, w = spec.resolution
            for item in out.iter_rows():
                row = rows[item["row_id"]]
                frames = np.frombuffer(item["frames"], np.uint8).reshape(-1, h, w, 3)
                writer.write(row, frames, float(item["wall_s"]), float(item["wall_s"]))
        finally:
            if started:
                ray.shutdown()
    return writer.finish(failures, skipped, t_start)
