"""The quality gate: candidate videos against reference videos, matched by name, judged by
PSNR / SSIM / LPIPS thresholds (``dreamgym gate``).

Each side is a folder of ``.mp4`` files (matched by file name) or a bulk sink (a folder with
``metadata.parquet``, or the parquet file itself: its ``ok`` rows, matched by ``row_id``).
Metrics are over the predicted frames (frame 0, the given start frame, is left out) and
averaged per video (:func:`engine.metrics.video_metrics`); the thresholds are
:class:`engine.metrics.QualityThresholds`.

Bad input (a missing folder, nothing to compare, a name on one side only, an unreadable
video) raises :class:`GateInputError` before any metric is computed; a video whose frame count
or resolution differs from its reference is a failure of that video, not bad input.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.files import atomic_write_bytes, path_inside
from engine.metrics import LPIPS, QualityThresholds, video_metrics
from engine.video import decode_mp4


class GateInputError(ValueError):
    """The gate's inputs are malformed (exit code 2 on the command line)."""


def _videos_of(path: str | os.PathLike, side: str) -> dict[str, Path]:
    """name -> mp4 path of one side of the gate."""
    p = Path(path)
    parquet = p if p.suffix == ".parquet" else p / "metadata.parquet"
    if parquet.is_file():
        import pyarrow.parquet as pq

        table = pq.read_table(parquet).to_pylist()
        rows = [r for r in table if r.get("status", "ok") == "ok" and r.get("mp4")]
        if not rows:
            raise GateInputError(f"{side}: {parquet} lists no finished rows with an mp4 (expected status 'ok' rows)")
        try:  # the parquet is data: its mp4 paths stay inside the sink
            return {
                str(r["row_id"]): path_inside(parquet.parent, r["mp4"], f"{side}: row {r['row_id']!r}'s mp4")
                for r in rows
            }
        except ValueError as e:
            raise GateInputError(str(e)) from None
    if not p.is_dir():
        raise GateInputError(f"{side}: {p} is not a folder of .mp4 files or a sink with metadata.parquet")
    videos = {f.stem: f for f in sorted(p.glob("*.mp4"))}  # by stem: a sink's videos are <row_id>.mp4
    if not videos:
        raise GateInputError(f"{side}: {p} holds no .mp4 files (expected a folder of .mp4 or metadata.parquet)")
    return videos


def natural_key(name: str) -> list:
    """Sort key that orders numbers by value: ``toy-2`` before ``toy-10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part]


def pair_videos(candidates, references) -> list[tuple[str, Path, Path]]:
    """(name, candidate path, reference path) for every name, in natural order; GateInputError
    when a name is on one side only or a file is missing. A folder's videos are named by file
    stem, a sink's by row id, so a sink pairs with a folder of ``<row_id>.mp4``."""
    cand, ref = _videos_of(candidates, "CANDIDATES"), _videos_of(references, "REFERENCES")
    only_c = sorted(set(cand) - set(ref), key=natural_key)
    only_r = sorted(set(ref) - set(cand), key=natural_key)
    if only_c or only_r:
        parts = []
        if only_c:
            parts.append(f"no reference for {len(only_c)} candidate(s): {', '.join(only_c[:5])}")
        if only_r:
            parts.append(f"no candidate for {len(only_r)} reference(s): {', '.join(only_r[:5])}")
        raise GateInputError("videos must match by name; " + "; ".join(parts))
    for name in cand:
        for side, path in (("candidate", cand[name]), ("reference", ref[name])):
            if not path.is_file():
                raise GateInputError(f"{side} {name}: {path} does not exist")
    return [(name, cand[name], ref[name]) for name in sorted(cand, key=natural_key)]


def _decode(path: Path, side: str) -> np.ndarray:
    try:
        return decode_mp4(path)
    except Exception as e:  # av raises its own error types for damaged files
        raise GateInputError(f"{side} {path} is not a readable mp4 ({type(e).__name__}: {e})") from None


@dataclass
class GateRow:
    """One video's result: mean metrics over its predicted frames, and what failed."""

    name: str
    frames: int
    psnr: float | None
    ssim: float | None
    lpips: float | None
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class GateReport:
    """All rows, the thresholds, and the LPIPS weights used (``None`` when not computed)."""

    rows: list[GateRow]
    thresholds: QualityThresholds
    lpips_weights: str | None
    candidates: str = ""
    references: str = ""

    @property
    def ok(self) -> bool:
        return all(r.passed for r in self.rows)

    def table(self) -> str:
        """A plain-text table, one line per video, and a summary line."""
        w = max(12, *(len(r.name) for r in self.rows))
        lines = [f"{'video':<{w}}  {'frames':>6}  {'PSNR dB':>8}  {'SSIM':>7}  {'LPIPS':>7}  result"]

        def num(v, fmt):
            return format(v, fmt) if v is not None else "-"

        for r in self.rows:
            result = "ok" if r.passed else "FAIL " + "; ".join(r.failures)
            lines.append(
                f"{r.name:<{w}}  {r.frames:>6}  {num(r.psnr, '8.2f'):>8}  {num(r.ssim, '7.4f'):>7}  "
                f"{num(r.lpips, '7.4f'):>7}  {result}"
            )
        t = self.thresholds
        limits = [
            f"{k} {v:g}"
            for k, v in (("min PSNR", t.min_psnr), ("min SSIM", t.min_ssim), ("max LPIPS", t.max_lpips))
            if v is not None
        ]
        failed = sum(not r.passed for r in self.rows)
        lines.append(
            f"{len(self.rows)} videos: {len(self.rows) - failed} passed, {failed} failed"
            + (f" ({', '.join(limits)})" if limits else " (no thresholds: report only)")
        )
        if self.lpips_weights is not None:
            lines.append(f"LPIPS weights: {self.lpips_weights}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        def clean(v):
            return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v

        return {
            "candidates": self.candidates,
            "references": self.references,
            "thresholds": self.thresholds.as_dict(),
            "lpips_weights": self.lpips_weights,
            "ok": self.ok,
            "passed": sum(r.passed for r in self.rows),
            "failed": sum(not r.passed for r in self.rows),
            "videos": [
                {
                    "name": r.name,
                    "frames": r.frames,
                    "psnr": clean(r.psnr),
                    "ssim": clean(r.ssim),
                    "lpips": clean(r.lpips),
                    "passed": r.passed,
                    "failures": r.failures,
                }
                for r in self.rows
            ],
        }

    def write_json(self, path: str | os.PathLike) -> Path:
        return atomic_write_bytes(path, (json.dumps(self.as_dict(), indent=2) + "\n").encode())


def run_gate(candidates, references, thresholds: QualityThresholds | None = None, lpips: LPIPS | None = None):
    """Compare every candidate video with its reference; a :class:`GateReport`.

    LPIPS is computed when ``lpips`` is given (required when ``thresholds.max_lpips`` is set).
    """
    thresholds = thresholds or QualityThresholds()
    if thresholds.needs_lpips and lpips is None:
        raise GateInputError("a max_lpips threshold needs an LPIPS model (pass lpips=LPIPS(...))")
    pairs = pair_videos(candidates, references)
    rows = []
    for name, cpath, rpath in pairs:
        c, r = _decode(cpath, "candidate"), _decode(rpath, "reference")
        if c.shape != r.shape:
            rows.append(GateRow(name, len(c), None, None, None, [f"shape {c.shape} != reference {r.shape}"]))
            continue
        m = video_metrics(c, r, lpips=lpips)
        rows.append(
            GateRow(name, m["frames"], m["psnr_mean"], m["ssim_mean"], m.get("lpips_mean"), thresholds.failures(m))
        )
    return GateReport(
        rows,
        thresholds,
        None if lpips is None else lpips.weights,
        candidates=str(candidates),
        references=str(references),
    )
