"""Bulk generation benchmark on push-64: rows/s of ``predict_many`` locally, through a
``RemoteEngine`` (a ``dreamgym serve`` process on this machine), and on Ray (2 actors, a
local cluster), and the overhead of ``predict_many`` over raw ``Engine.predict_batch`` on
the same rows.

The rows: toy-world episodes (16 actions, two chunks), each with 4 perturbed variants and
its unperturbed parent (5 rows per start frame). The raw baseline rolls each episode's 5
rows out with one ``predict_batch`` (per-row seeds) and does nothing else; ``predict_many``
also decodes the inputs, encodes an mp4 per row, hashes, writes videos, inputs and the
parquet, and computes the drift against the parent. Baseline and local run alternate, in
one process.

Writes benchmarks/results/bulk_bench.json and the "bulk" section of docs/benchmarks.md.

    python benchmarks/bulk_bench.py           # a few minutes on 2 cores
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _docs import replace_section

from engine import Engine
from engine.bulk import EpisodeDirSource, PerturbedSource, RolloutSink, predict_many
from engine.codecs import image_from_bytes

ROOT = Path(__file__).resolve().parents[1]

OUT = ROOT / "benchmarks" / "results" / "bulk_bench.json"


def make_source(tmp: Path, episodes: int) -> PerturbedSource:
    from dreamgym.toyworld.episodes import write_episodes

    write_episodes(tmp / "eps" / "toy.npz", episodes, seed=777, length=16)
    return PerturbedSource(EpisodeDirSource(tmp / "eps"), k=4, scale=0.05, seed=3, low=-1.0, high=1.0)


def raw_batches(engine: Engine, source) -> float:
    """The same rows, rolled out with one predict_batch per start frame; seconds."""
    groups: dict[str, list] = {}
    for row in source:
        groups.setdefault(row.metadata["parent_id"], []).append(row)
    t0 = time.perf_counter()
    for rows in groups.values():
        frame = image_from_bytes(rows[0].frame_bytes)
        acts = np.stack([np.load(io.BytesIO(r.actions_bytes)) for r in rows])
        engine.predict_batch(frame, acts, seed=[r.metadata["seed"] for r in rows])
    return time.perf_counter() - t0


def timed_run(model, source, out: Path, **kw) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    res = predict_many(model, source, RolloutSink.dir(out), progress=False, **kw)
    wall = time.perf_counter() - t0
    assert res.failed == 0, res.failures[:3]
    return {"rows": res.ok, "wall_s": round(wall, 2), "rows_per_s": round(res.ok / wall, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=8, help="episodes (x 5 rows each)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    engine = Engine.load("push-64")
    tmp = Path(tempfile.mkdtemp(prefix="bulk_bench_"))
    src = make_source(tmp, args.episodes)
    rows = sum(1 for _ in src)
    results: dict = {"model": "push-64", "rows": rows, "frames_per_row": 17, "repeats": args.repeats}
    raw_batches(engine, src)  # warm
    raw_s, local_s = [], []
    for r in range(args.repeats):
        raw_s.append(raw_batches(engine, src))
        local_s.append(timed_run(engine, src, tmp / f"local{r}")["wall_s"])
        print(f"repeat {r}: raw {raw_s[-1]:.2f} s, predict_many {local_s[-1]:.2f} s", flush=True)
    raw_m, loc_m = statistics.median(raw_s), statistics.median(local_s)
    results["raw_predict_batch_s"] = round(raw_m, 2)
    results["local"] = {"wall_s": round(loc_m, 2), "rows_per_s": round(rows / loc_m, 3)}
    results["overhead_pct"] = round(100 * (loc_m / raw_m - 1), 1)
    from engine import RemoteEngine
    from engine.serving.process import ServerProcess

    with ServerProcess("--model", "push-64") as server, RemoteEngine(server.url) as remote:
        timed_run(remote, src, tmp / "warm", concurrency=8)
        results["remote"] = timed_run(remote, src, tmp / "remote", concurrency=16)
    print("remote", results["remote"], flush=True)
    same = all(
        (tmp / "local0" / "videos" / f"{r.row_id}.mp4").read_bytes()
        == (tmp / "remote" / "videos" / f"{r.row_id}.mp4").read_bytes()
        for r in src
    )
    results["remote_equals_local"] = same
    if not args.no_ray:
        results["ray"] = timed_run("push-64", src, tmp / "ray", backend="ray", ray_actors=2)
        results["ray"]["note"] = "includes starting a local Ray cluster and 2 actors loading the model"
        print("ray", results["ray"], flush=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    replace_section("bulk", table(results))
    shutil.rmtree(tmp, ignore_errors=True)


def table(res: dict) -> str:
    lines = [
        "## Bulk generation (`predict_many`, CPU)",
        "",
        f"`benchmarks/bulk_bench.py`, one run on push-64: {res['rows']} rows (toy episodes of 16 actions, each "
        "with 4 perturbed variants and its parent), written to `RolloutSink.dir` (mp4s, inputs, parquet).",
        "",
        "| backend | rows/s | wall s |",
        "|---|---:|---:|",
        f"| local (in process) | {res['local']['rows_per_s']:.2f} | {res['local']['wall_s']:.1f} |",
        f"| `RemoteEngine` (a server on this machine, 16 in flight) | {res['remote']['rows_per_s']:.2f} | "
        f"{res['remote']['wall_s']:.1f} |",
    ]
    if "ray" in res:
        lines.append(
            f"| Ray, 2 actors (local cluster; start-up included) | {res['ray']['rows_per_s']:.2f} | "
            f"{res['ray']['wall_s']:.1f} |"
        )
    lines += [
        "",
        f"Overhead of `predict_many` over raw `predict_batch` (one call per start frame, nothing written) on the "
        f"same rows: {res['local']['wall_s']:.2f} s vs {res['raw_predict_batch_s']:.2f} s, median of "
        f"{res['repeats']} alternating runs: **{res['overhead_pct']:+.1f}%**. Remote output equals local byte for "
        f"byte: {res['remote_equals_local']}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
