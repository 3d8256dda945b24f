"""``verify``: re-run rows of a sink from their stored inputs and compare bytes with the receipts.

For each checked row: the mp4 on disk must hash to its receipt's ``mp4_sha256`` (else it
was altered after the run), the stored inputs must hash to the receipt's frame and actions
hashes, and a fresh rollout with the receipt's seed, steps and guidance must encode to the
same mp4 bytes (else the engine, weights or software changed what it computes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codecs import array_from_npy_bytes, image_from_bytes, sha256
from ..files import path_inside
from ..resolve import open_engine
from ..validation import as_int
from ..video import encode_mp4
from .sinks import read_journal


@dataclass
class VerifyReport:
    """Rows checked, those that matched, and each mismatch as (row_id, reason)."""

    checked: int = 0
    matched: int = 0
    mismatches: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.checked > 0


def sink_records(path) -> list[dict]:
    """The successful rows of a directory sink (``metadata.parquet``, else its journal)."""
    root = Path(path)
    if (root / "metadata.parquet").exists():
        import pyarrow.parquet as pq

        recs = pq.read_table(root / "metadata.parquet").to_pylist()
    elif (root / "metadata.jsonl").exists():
        recs = read_journal(root / "metadata.jsonl")
    else:
        raise FileNotFoundError(f"{root} is not a predict_many sink: no metadata.parquet or metadata.jsonl")
    return [r for r in recs if r.get("status") == "ok"]


def verify(path, model=None, *, sample: int | None = None, seed: int = 0, progress: bool = False) -> VerifyReport:
    """Re-run the rows of the sink at ``path`` (all, or ``sample`` of them drawn with ``seed``).

    model: an Engine (or RemoteEngine, spec name, path, URL); default: the receipts' spec.
    """
    root = Path(path)
    recs = sink_records(root)
    if sample is not None:
        sample = as_int(sample, "sample", low=1)
        recs = random.Random(seed).sample(recs, min(sample, len(recs)))
    report = VerifyReport()
    if not recs:
        return report
    specs = {r.get("spec") for r in recs}
    if model is None:
        if len(specs) != 1:
            raise ValueError(f"the sink mixes specs {sorted(map(str, specs))}; pass model=")
        model = specs.pop()
    engine = open_engine(model)
    weights = engine.weights_sha256()
    for rec in recs:
        rid = rec["row_id"]
        report.checked += 1
        try:  # receipts are data: a path may not leave the sink
            mp4_path = path_inside(root, rec.get("mp4") or f"videos/{rid}.mp4", "the receipt's mp4 path")
        except ValueError as e:
            report.mismatches.append((rid, f"{e} (points outside the sink)"))
            continue
        if not mp4_path.exists():
            report.mismatches.append((rid, f"{mp4_path} is missing"))
            continue
        if sha256(mp4_path.read_bytes()) != rec["mp4_sha256"]:
            report.mismatches.append((rid, "the mp4 on disk does not match its receipt (altered after the run)"))
            continue
        try:
            frame = image_from_bytes((root / "inputs" / f"{rid}.png").read_bytes(), name="stored frame")
            actions = array_from_npy_bytes((root / "inputs" / f"{rid}.npy").read_bytes(), name="stored actions")
        except (OSError, ValueError) as e:
            report.mismatches.append((rid, f"stored inputs unreadable: {e}"))
            continue
        if (
            sha256(frame.tobytes()) != rec["frame_sha256"]
            or sha256(actions.astype(np.float32).tobytes()) != rec["actions_sha256"]
        ):
            report.mismatches.append((rid, "the stored inputs do not match their receipt"))
            continue
        if weights and rec.get("weights_sha256") and weights != rec["weights_sha256"]:
            report.mismatches.append(
                (rid, f"weights differ: receipt {rec['weights_sha256'][:12]}, engine {weights[:12]}")
            )
            continue
        r = engine.predict(
            frame, actions, seed=int(rec["seed"]), num_steps=int(rec["num_steps"]), guidance=float(rec["guidance"])
        )
        mp4 = encode_mp4(np.concatenate([frame[None], r.frames]), engine.spec.fps)
        if sha256(mp4) != rec["mp4_sha256"]:
            report.mismatches.append((rid, "a fresh rollout gives different mp4 bytes than the receipt"))
            continue
        report.matched += 1
    return report
