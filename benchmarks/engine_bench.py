"""Engine speed on this machine: rollout wall time and its split, batched K-candidate cost,
and analytic FLOPs. Writes ``benchmarks/results/engine_bench.json`` and the engine section
of ``docs/benchmarks.md``.

    python benchmarks/engine_bench.py [--specs push-64 tiny-random] [--frames 16] [--repeats 3]

All ratios in one table come from one run of this script.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from _docs import replace_section

from engine import Engine, get_spec
from engine.flops import dit_call_flops, rollout_dit_flops
from engine.hardware import isa_class
from engine.validation import as_actions, as_frame

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks.md"


def start_frame(spec) -> np.ndarray:
    if spec.name == "push-64":
        from dreamgym import toyworld as tw

        return tw.render(tw.random_states(np.random.default_rng(0), 1))[0]
    rng = np.random.default_rng(0)
    return (rng.random((*spec.resolution, 3)) * 255).astype(np.uint8)


def bench_split(eng: Engine, frame, frames: int, repeats: int) -> dict:
    spec = eng.spec
    acts = np.random.default_rng(1).uniform(-1, 1, (frames, spec.action_dim)).astype(np.float32)
    eng.predict(frame, acts, seed=0)  # warm-up
    rows = []
    for r in range(repeats):
        t0 = time.perf_counter()
        as_frame(frame, spec)
        as_actions(acts, spec)
        t_val = time.perf_counter() - t0
        roll = eng.predict(frame, acts, seed=r)
        t1 = time.perf_counter()
        roll.mp4_bytes()
        t_mp4 = time.perf_counter() - t1
        tm = roll.timings
        total = tm["total"] + t_mp4 + t_val
        networks = tm["encode"] + tm["denoise"] + tm["decode"] + tm["handoff"]  # denoise includes the noise
        rows.append(
            {
                "total_s": total,
                "encode_s": tm["encode"],
                "denoise_s": tm["denoise"],
                "decode_s": tm["decode"],
                "handoff_encode_s": tm["handoff"],
                "validation_s": t_val,
                "mp4_s": t_mp4,
                "outside_networks_s": total - networks,
            }
        )
    med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
    med["outside_networks_frac"] = med["outside_networks_s"] / med["total_s"]
    return med


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of an n x n matmul in ``dtype`` at the process's thread count (median)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / float(np.median(times)) / 1e9


def k1_threads(name: str, frame, frames: int, repeats: int) -> dict:
    """K = 1 wall time with one row worker and with two: a single rollout in the deterministic
    mode is one row, so the second core has nothing to do."""
    out = {}
    for threads in (1, 2):
        eng = Engine.load(name, threads=threads)
        acts = np.random.default_rng(3).uniform(-1, 1, (frames, eng.spec.action_dim)).astype(np.float32)
        eng.predict(frame, acts)
        out[f"threads_{threads}_s"] = float(
            np.median([eng.predict_batch(frame, acts[None]).wall_s for _ in range(repeats)])
        )
    out["two_vs_one"] = out["threads_1_s"] / out["threads_2_s"]
    return out


def bench_k(engines: dict[str, Engine], frame, frames: int, ks: list[int], repeats: int) -> dict:
    """predict_batch wall time per K for each engine, the engines interleaved call by call
    (so drift in the machine's speed hits both alike), and the per-pair ratio to the first."""
    spec = next(iter(engines.values())).spec
    names = list(engines)
    out: dict[str, dict] = {n: {} for n in names}
    ratios = {}
    for k in ks:
        acts = np.random.default_rng(k).uniform(-1, 1, (k, frames, spec.action_dim)).astype(np.float32)
        for eng in engines.values():
            eng.predict_batch(frame, acts[: min(k, 2)], seed=0)
        times: dict[str, list] = {n: [] for n in names}
        for _ in range(repeats):
            for n in names:
                times[n].append(engines[n].predict_batch(frame, acts, seed=0).wall_s)
        for n in names:
            out[n][k] = float(np.median(times[n]))
        ratios[k] = float(np.median([a / b for a, b in zip(times[names[0]], times[names[1]], strict=True)]))
    result = {}
    for n in names:
        base = out[n][ks[0]]
        result[n] = {
            str(k): {"wall_s": v, "per_candidate_s": v / k, "per_candidate_vs_k1": v / k / base}
            for k, v in out[n].items()
        }
    result["ratio_first_to_second"] = {str(k): v for k, v in ratios.items()}
    return result


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--specs", nargs="+", default=["push-64", "tiny-random"])
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)

    result = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        },
        "specs": {},
        "flops": {},
        "matmul_gflops": {
            "fp32": matmul_peak(torch.float32),
            "bf16": matmul_peak(torch.bfloat16),
            "isa_class": isa_class(),
        },
    }
    for name in ("dreamdojo-2b-gr1", "push-64", "tiny-random"):
        spec = get_spec(name)
        frames = 48 if name == "dreamdojo-2b-gr1" else args.frames
        call = dit_call_flops(spec)
        result["flops"][name] = {
            "dit_call_tflop": call["total"] / 1e12,
            "tokens_per_call": call["tokens"],
            "rollout_frames": frames,
            "rollout_dit_tflop": rollout_dit_flops(spec, frames) / 1e12,
        }
    for name in args.specs:
        try:
            det = Engine.load(name)
        except FileNotFoundError as e:
            print(f"skipping {name}: {e}")
            continue
        batched = Engine.load(name, deterministic=False, vae_batch=8)
        frame = start_frame(det.spec)
        print(f"[{name}] split ...", flush=True)
        split = bench_split(det, frame, args.frames, args.repeats)
        print(f"[{name}] K scaling ...", flush=True)
        k = bench_k({"deterministic": det, "batched": batched}, frame, args.frames, args.ks, args.repeats)
        dit_gflops = rollout_dit_flops(det.spec, args.frames) / split["denoise_s"] / 1e9
        result["specs"][name] = {
            "k1_threads": k1_threads(name, frame, args.frames, args.repeats),
            "dit_gflops": dit_gflops,
            "dit_fraction_of_fp32_peak": dit_gflops / result["matmul_gflops"]["fp32"],
            "frames": args.frames,
            "num_steps": det.spec.num_steps,
            "split": split,
            "k_deterministic": k["deterministic"],
            "k_batched": k["batched"],
            "deterministic_vs_batched_per_candidate": k["ratio_first_to_second"],
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "engine_bench.json").write_text(json.dumps(result, indent=2))
    write_doc(result)
    return result


def write_doc(result: dict) -> None:
    lines = ["## Engine (CPU)", ""]
    m = result["machine"]
    lines.append(
        f"Machine: {m['cpu_count']} CPU cores, torch {m['torch']} ({m['torch_threads']} threads), "
        f"Python {m['python']}. Medians of repeated runs; all ratios from one run."
    )
    lines.append("")
    for name, r in result["specs"].items():
        s = r["split"]
        lines += [
            f"### `{name}`: one {r['frames']}-frame rollout, {r['num_steps']} steps per chunk",
            "",
            "| part | seconds | share |",
            "|---|---:|---:|",
        ]
        for key in ("encode_s", "denoise_s", "decode_s", "handoff_encode_s", "validation_s", "mp4_s"):
            lines.append(f"| {key[:-2]} | {s[key]:.4f} | {s[key] / s['total_s']:.1%} |")
        lines.append(f"| **total** | **{s['total_s']:.4f}** | |")
        lines.append(
            f"| outside the networks (validation, noise, mp4, glue) | {s['outside_networks_s']:.4f} | "
            f"{s['outside_networks_frac']:.1%} |"
        )
        lines += [
            "",
            "`predict_batch` in the deterministic mode (the CPU default: DiT one row per call, VAE in "
            "4-row tiles, rows on workers pinned to one thread) and in the batched mode (`deterministic=False`: "
            "rows through the networks together, VAE calls of 8 rows, both threads per kernel; no batch = single "
            "guarantee). Calls interleaved; the last column is the median of the per-pair ratios:",
            "",
            "| K | deterministic: wall s | per candidate vs K=1 | batched: wall s | per candidate vs K=1 | "
            "deterministic / batched |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for k in r["k_deterministic"]:
            e, f = r["k_deterministic"][k], r["k_batched"][k]
            lines.append(
                f"| {k} | {e['wall_s']:.3f} | {e['per_candidate_vs_k1']:.2f} | {f['wall_s']:.3f} | "
                f"{f['per_candidate_vs_k1']:.2f} | {r['deterministic_vs_batched_per_candidate'][k]:.2f} |"
            )
        lines.append("")
    mm = result["matmul_gflops"]
    lines += [
        f"### Where the time could come from (ISA class `{mm['isa_class']}`)",
        "",
        f"A 2048 x 2048 matmul at {m['torch_threads']} threads: fp32 {mm['fp32']:.0f} GFLOP/s, bf16 "
        f"{mm['bf16']:.0f} GFLOP/s ({mm['bf16'] / mm['fp32']:.2f}x).",
        "",
        "| spec | DiT GFLOP/s in a K = 1 rollout | of the fp32 matmul peak | of the bf16 peak | "
        "K = 1, one row worker (s) | two row workers (s) | two vs one |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in result["specs"].items():
        t = r["k1_threads"]
        lines.append(
            f"| {name} | {r['dit_gflops']:.1f} | {r['dit_gflops'] / mm['fp32']:.1%} | "
            f"{r['dit_gflops'] / mm['bf16']:.1%} | "
            f"{t['threads_1_s']:.3f} | {t['threads_2_s']:.3f} | {t['two_vs_one']:.2f}x |"
        )
    lines.append("")
    lines += [
        "### Analytic DiT FLOPs",
        "",
        "| spec | tokens per call | TFLOP per DiT call | frames | DiT TFLOP per rollout |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, f in result["flops"].items():
        lines.append(
            f"| {name} | {f['tokens_per_call']} | {f['dit_call_tflop']:.4g} | {f['rollout_frames']} | "
            f"{f['rollout_dit_tflop']:.4g} |"
        )
    replace_section("engine", "\n".join(lines))


if __name__ == "__main__":
    main()
