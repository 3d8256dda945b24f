"""``estimate_cost``: what a bulk run will take, before running it.

Rows and frames come from the source (its ``rows_hint`` or ``len()``, and the length of the
first row's actions). Engine seconds come from the analytic DiT FLOPs of one rollout
(:mod:`engine.flops`) divided by an effective rate measured by a short probe on the local
engine (a few rows of one chunk, so the VAE and everything else the FLOPs leave out are in
the rate). Money: at a price per GPU-hour, or per billed frame as the hosted service
charges (T + 1 frames per rollout of T actions: 49 for a 48-action GR-1 rollout, at
$0.0005 per frame).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..codecs import array_from_npy_bytes
from ..flops import rollout_dit_flops
from ..resolve import open_engine
from ..validation import as_guidance, as_num_steps
from .rows import rows_of

HOSTED_PRICE_PER_FRAME_USD = 0.0005


@dataclass(frozen=True)
class CostEstimate:
    """rows (None when the source does not say), frames_per_row (T + 1), total_frames,
    flops_per_row, measured_flops_per_s (None without a probe), engine_seconds,
    usd (None without a price) and how it was priced."""

    rows: int | None
    frames_per_row: int
    total_frames: int | None
    flops_per_row: float
    measured_flops_per_s: float | None
    engine_seconds: float | None
    usd: float | None
    pricing: str
    spec: str

    def __str__(self) -> str:
        rows = "?" if self.rows is None else f"{self.rows}"
        secs = "?" if self.engine_seconds is None else f"{self.engine_seconds:.0f} s"
        usd = "no price given" if self.usd is None else f"${self.usd:.2f} ({self.pricing})"
        return f"{rows} rows x {self.frames_per_row} frames on {self.spec}: about {secs} of engine time, {usd}"


def estimate_cost(
    source,
    model,
    *,
    num_steps: int | None = None,
    guidance: float | None = None,
    price_per_gpu_hour: float | None = None,
    price_per_frame: float | None = None,
    probe: bool = True,
    probe_rows: int = 4,
) -> CostEstimate:
    """Estimate a :func:`~engine.bulk.predict_many` run of ``model`` over ``source``.

    model: an Engine (probed for its speed), a RemoteEngine, a name, a path, or a bare
    :class:`ModelSpec` (frames and money only: no engine seconds without a probe).
    The first row is read once (sources return a fresh iterator per ``iter``).
    """
    if price_per_gpu_hour is not None and price_per_frame is not None:
        raise ValueError("give price_per_gpu_hour or price_per_frame, not both")
    for name, v in (("price_per_gpu_hour", price_per_gpu_hour), ("price_per_frame", price_per_frame)):
        if v is not None and (not isinstance(v, int | float) or not np.isfinite(v) or v < 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    from ..specs import ModelSpec

    engine = None if isinstance(model, ModelSpec) else open_engine(model)
    spec = model if engine is None else engine.spec
    ns, g = as_num_steps(num_steps, spec), as_guidance(guidance, spec)
    first = next(iter(source), None)
    if first is None:
        raise ValueError("the source is empty: nothing to estimate")
    acts = array_from_npy_bytes(first.actions_bytes)
    if acts.ndim != 2:
        raise ValueError(f"the first row's actions must be (T, action_dim), got shape {acts.shape}")
    t = int(acts.shape[0])
    rows = rows_of(source)
    flops = rollout_dit_flops(spec, t, ns, g)
    rate = seconds = None
    if probe and engine is not None and engine.runs_in_process:
        k = max(1, int(probe_rows))
        frame = (
            engine.example_frames[0] if engine.example_frames is not None else np.zeros((*spec.resolution, 3), np.uint8)
        )
        chunk = np.zeros((k, spec.chunk_size, spec.action_dim), np.float32)
        engine.predict_batch(frame, chunk[:1], num_steps=ns, guidance=g)  # warm
        t0 = time.perf_counter()
        engine.predict_batch(frame, chunk, num_steps=ns, guidance=g)
        rate = k * rollout_dit_flops(spec, spec.chunk_size, ns, g) / (time.perf_counter() - t0)
        seconds = None if rows is None else rows * flops / rate
    usd, pricing = None, "no price given"
    if price_per_frame is not None and rows is not None:
        usd, pricing = rows * (t + 1) * price_per_frame, f"${price_per_frame} per frame, {t + 1} billed per row"
    elif price_per_gpu_hour is not None and seconds is not None:
        usd, pricing = seconds / 3600 * price_per_gpu_hour, f"${price_per_gpu_hour} per device-hour"
    return CostEstimate(
        rows=rows,
        frames_per_row=t + 1,
        total_frames=None if rows is None else rows * (t + 1),
        flops_per_row=flops,
        measured_flops_per_s=rate,
        engine_seconds=seconds,
        usd=usd,
        pricing=pricing,
        spec=spec.name,
    )
