"""Serving benchmark: ``dreamgym serve`` on push-64, driven by real HTTP clients.

Three measurements, all in one run (machines are noisy: compare numbers from the same run):

1. throughput and p50/p99 latency at 1, 4, 8 and 16 concurrent clients, each sending K = 1
   requests (two chunks, 16 frames) back to back, against a server with dynamic batching and
   one without (``--no-batching``: one request per engine step), both up at once and the
   levels alternating between them;
2. the HTTP overhead of a K = 8 ``predict_batch`` through ``RemoteEngine`` (lossless .npy
   frames) against the same call in process, interleaved, on the same CPU budget (the
   server and the in-process engine each get every core while they run);
3. a load run: 32 clients x 50 requests, every result checked against a local engine
   (requests cycle through 16 distinct rollouts computed locally first): lost and wrong.

Writes benchmarks/results/serve_bench.json and the "serve" section of docs/benchmarks.md.

    python benchmarks/serve_bench.py            # about 10 minutes on 2 cores
    python benchmarks/serve_bench.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import threading
import time
from pathlib import Path

import numpy as np
from _docs import replace_section

from engine import Engine, RemoteEngine
from engine.serving.process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]

OUT = ROOT / "benchmarks" / "results" / "serve_bench.json"


def plans(spec, n: int, chunks: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    shape = (chunks * spec.chunk_size, spec.action_dim)
    return [rng.uniform(spec.action_low, spec.action_high, shape).astype(np.float32) for _ in range(n)]


def closed_loop(url: str, clients: int, per_client: int, frames, acts) -> dict:
    """``clients`` threads, each with its own RemoteEngine, sending requests back to back."""
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def run(c):
        with RemoteEngine(url) as eng:
            barrier.wait()
            for j in range(per_client):
                i = (c * per_client + j) % len(acts)
                t0 = time.perf_counter()
                eng.predict(frames[i % len(frames)], acts[i], seed=i)
                with lock:
                    latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = sorted(latencies)
    return {
        "clients": clients,
        "requests": len(lat),
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(lat) / wall, 3),
        "p50_ms": round(1000 * lat[len(lat) // 2], 1),
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1),
    }


def http_overhead(url: str, engine: Engine, repeats: int) -> dict:
    """K = 8 predict_batch through RemoteEngine vs in process, interleaved."""
    frame = engine.example_frames[0]
    cands = np.stack(plans(engine.spec, 8))
    remote = RemoteEngine(url)
    remote.predict_batch(frame, cands, seed=0)  # warm both
    engine.predict_batch(frame, cands, seed=0)
    local_s, remote_s = [], []
    for r in range(repeats):
        t0 = time.perf_counter()
        a = engine.predict_batch(frame, cands, seed=r + 1)
        local_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = remote.predict_batch(frame, cands, seed=r + 1)
        remote_s.append(time.perf_counter() - t0)
        assert np.array_equal(a.frames, b.frames), "remote frames differ from local ones"
    remote.close()
    lm, rm = statistics.median(local_s), statistics.median(remote_s)
    return {
        "k": 8,
        "frames_per_rollout": int(cands.shape[1]),
        "repeats": repeats,
        "in_process_median_s": round(lm, 3),
        "remote_median_s": round(rm, 3),
        "overhead_pct": round(100 * (rm / lm - 1), 1),
        "bit_identical": True,
    }


def load_run(url: str, engine: Engine, clients: int, per_client: int) -> dict:
    frames = engine.example_frames
    acts = plans(engine.spec, 16)
    expected = [engine.predict(frames[i], acts[i], seed=i).frames for i in range(16)]
    got: dict[tuple[int, int], np.ndarray] = {}
    failures: list[str] = []
    lock = threading.Lock()

    def run(c):
        with RemoteEngine(url) as eng:
            for j in range(per_client):
                i = (c + j) % 16
                try:
                    r = eng.predict(frames[i], acts[i], seed=i)
                except Exception as e:  # noqa: BLE001 - counted as lost
                    with lock:
                        failures.append(f"{type(e).__name__}: {e}")
                    continue
                with lock:
                    got[(c, j)] = r.frames

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    wrong = sum(not np.array_equal(v, expected[(c + j) % 16]) for (c, j), v in got.items())
    total = clients * per_client
    return {
        "clients": clients,
        "requests_per_client": per_client,
        "requests": total,
        "ok": len(got),
        "lost": total - len(got),
        "wrong": wrong,
        "errors": failures[:5],
        "wall_s": round(wall, 1),
        "throughput_rps": round(len(got) / wall, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer requests (a smoke run, not for the docs)")
    args = ap.parse_args()
    engine = Engine.load("push-64")
    spec = engine.spec
    acts = plans(spec, 32)
    frames = engine.example_frames
    levels = [1, 4, 8, 16]
    per_client = {1: 4, 4: 3, 8: 3, 16: 2} if not args.quick else {1: 1, 4: 1, 8: 1, 16: 1}
    results: dict = {"model": spec.name, "frames_per_request": 2 * spec.chunk_size, "k": 1, "throughput": {}}
    # both servers up at once, levels interleaved (on, off, on, off ...): machine drift hits both alike
    with ServerProcess("--model", "push-64") as on, ServerProcess("--model", "push-64", "--no-batching") as off:
        servers = {"batching": on, "no_batching": off}
        for server in servers.values():
            closed_loop(server.url, 1, 1, frames, acts)  # warm-up request
        for mode in servers:
            results["throughput"][mode] = []
        for c in levels:
            for mode, server in servers.items():
                row = closed_loop(server.url, c, per_client[c], frames, acts)
                results["throughput"][mode].append(row)
                print(mode, row, flush=True)
        results["http_overhead"] = http_overhead(on.url, engine, 2 if args.quick else 6)
        print(results["http_overhead"], flush=True)
        results["load"] = load_run(on.url, engine, 32, 2 if args.quick else 50)
        print(results["load"], flush=True)
    on = {r["clients"]: r for r in results["throughput"]["batching"]}
    off = {r["clients"]: r for r in results["throughput"]["no_batching"]}
    results["speedup_from_batching"] = {c: round(on[c]["throughput_rps"] / off[c]["throughput_rps"], 2) for c in levels}
    results["machine"] = {"cpu": platform.processor() or platform.machine(), "cores": _cores()}
    results["quick"] = args.quick
    if args.quick:
        print(json.dumps(results, indent=2))
        return
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    replace_section("serve", table(results))


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def table(res: dict) -> str:
    on = {r["clients"]: r for r in res["throughput"]["batching"]}
    off = {r["clients"]: r for r in res["throughput"]["no_batching"]}
    speedup = {str(k): v for k, v in res["speedup_from_batching"].items()}  # JSON keys are strings
    lines = [
        "## Serving (`dreamgym serve`, CPU)",
        "",
        f"`benchmarks/serve_bench.py`, one run on {res['machine']['cores']} cores: push-64, every request K = 1 "
        f"with {res['frames_per_request']} frames, clients back to back through `RemoteEngine` (lossless frames). "
        '"off" is a second server with `--no-batching` (one request per engine step), up at the same time; the '
        "levels alternated between the two.",
        "",
        "| clients | batching: req/s | p50 ms | p99 ms | off: req/s | p50 ms | p99 ms | speed-up |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in sorted(on):
        a, b = on[c], off[c]
        lines.append(
            f"| {c} | {a['throughput_rps']:.2f} | {a['p50_ms']:.0f} | {a['p99_ms']:.0f} | {b['throughput_rps']:.2f} | "
            f"{b['p50_ms']:.0f} | {b['p99_ms']:.0f} | {speedup[str(c)]:.2f}x |"
        )
    h = res["http_overhead"]
    ld = res["load"]
    lines += [
        "",
        f"HTTP overhead of a K = {h['k']} `predict_batch` ({h['frames_per_rollout']} frames each) through "
        f"`RemoteEngine` against the same call in process: {h['remote_median_s']:.3f} s vs "
        f"{h['in_process_median_s']:.3f} s (median of {h['repeats']}, interleaved): **{h['overhead_pct']:+.1f}%**, "
        "frames bit-identical.",
        "",
        f"Load: {ld['clients']} clients x {ld['requests_per_client']} requests = {ld['requests']}: "
        f"{ld['ok']} ok, **{ld['lost']} lost, {ld['wrong']} wrong** (each checked against a local engine), "
        f"{ld['throughput_rps']:.2f} req/s over {ld['wall_s']:.0f} s.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
