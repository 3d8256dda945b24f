"""push-64 in bf16 against fp32 on this CPU: speed, fidelity and planning success, in one run.

* speed: ``predict_batch`` of K = 33 (a CEM re-plan's rollouts) and K = 1, 16 frames each,
  the two precisions interleaved, fastest of ``--reps`` calls each;
* fidelity: held-out episodes (the heldout seed range), 32 frames from the true start frame
  with the true actions, PSNR against the toy world's frames (frames 1-16 and 1-32), and bf16
  against fp32 directly;
* planning: the demo's planner (lattice CEM, 33 rollouts per re-plan) on ``--plan-episodes``
  push episodes of the planning benchmark, success in each precision.

    python benchmarks/precision.py [--episodes 50] [--plan-episodes 20] [--threads 2]

Writes benchmarks/results/precision.json and the "precision" section of docs/fidelity.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import planning
import torch
from _docs import replace_section
from fidelity import rollout_model

from dreamgym.toyworld.episodes import HELDOUT_SEED, generate_episodes
from engine import Engine
from engine.hardware import has_bf16_matrix_units, isa_class
from engine.metrics import psnr

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "precision.json"
DTYPES = ("float32", "bfloat16")


def speed(engines: dict, reps: int) -> dict:
    frame = engines["float32"].example_frames[0]
    out = {}
    for k in (33, 1):
        acts = np.random.default_rng(k).uniform(-1, 1, (k, 16, 2)).astype(np.float32)
        times: dict[str, list[float]] = {d: [] for d in DTYPES}
        for _ in range(reps):
            for d in DTYPES:  # interleaved: both see the same machine
                t0 = time.perf_counter()
                engines[d].predict_batch(frame, acts, seed=0)
                times[d].append(time.perf_counter() - t0)
        best = {d: min(v) for d, v in times.items()}
        out[f"k{k}"] = {"fp32_s": round(best["float32"], 3), "bf16_s": round(best["bfloat16"], 3)}
        out[f"k{k}"]["ratio"] = round(best["float32"] / best["bfloat16"], 2)
    return out


def fidelity(engines: dict, episodes: int) -> dict:
    data = generate_episodes(episodes, seed=HELDOUT_SEED, length=32)
    truth = data["frames"][:, 1:]
    preds = {d: rollout_model(engines[d], data["frames"][:, 0], data["actions"], seed=0) for d in DTYPES}
    out = {}
    for d, p in preds.items():
        per_frame = psnr(p, truth).mean(axis=0)  # (T,)
        out[d] = {"psnr_1_16": round(float(per_frame[:16].mean()), 2), "psnr_1_32": round(float(per_frame.mean()), 2)}
    out["bf16_vs_fp32_psnr"] = round(float(psnr(preds["bfloat16"], preds["float32"]).mean()), 2)
    return out


def planning_success(engines: dict, episodes: int) -> dict:
    out = {}
    for d in DTYPES:
        planning._MODELS[f"push-64-{d}"] = engines[d]
        runs = [planning.run_episode("push", "cem", f"push-64-{d}", ep) for ep in range(episodes)]
        out[d] = {
            "success": round(float(np.mean([r["success"] for r in runs])), 3),
            "replan_s_mean": round(float(np.mean([r["plan_s_mean"] for r in runs])), 3),
        }
        print(d, out[d], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=50, help="held-out episodes for fidelity")
    ap.add_argument("--plan-episodes", type=int, default=20, help="push episodes for planning success (0: skip)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    engines = {d: Engine.load("push-64", dtype=d, threads=args.threads) for d in DTYPES}
    res = {
        "machine": {"isa_class": isa_class(), "bf16_matrix_units": has_bf16_matrix_units(), "threads": args.threads},
        "speed": speed(engines, args.reps),
    }
    print(json.dumps(res, indent=2), flush=True)
    res["fidelity"] = fidelity(engines, args.episodes)
    print(json.dumps(res["fidelity"], indent=2), flush=True)
    if args.plan_episodes:
        res["planning"] = planning_success(engines, args.plan_episodes)
    OUT.write_text(json.dumps(res, indent=2) + "\n")
    s, f = res["speed"], res["fidelity"]
    lines = [
        "## bf16 against fp32 (push-64, CPU)",
        "",
        f"Written by `benchmarks/precision.py` on a CPU of ISA class `{isa_class()}` (bf16 matrix units: "
        f"{'yes' if res['machine']['bf16_matrix_units'] else 'no'}), {args.threads} threads, one run.",
        "",
        "| | fp32 | bf16 | fp32 / bf16 |",
        "|---|---:|---:|---:|",
        f"| predict_batch K=33, 16 frames (s) | {s['k33']['fp32_s']} | {s['k33']['bf16_s']} | {s['k33']['ratio']}x |",
        f"| predict K=1, 16 frames (s) | {s['k1']['fp32_s']} | {s['k1']['bf16_s']} | {s['k1']['ratio']}x |",
        f"| PSNR vs the toy world, frames 1-16 ({args.episodes} held-out episodes) | "
        f"{f['float32']['psnr_1_16']} | {f['bfloat16']['psnr_1_16']} | |",
        f"| PSNR vs the toy world, frames 1-32 | {f['float32']['psnr_1_32']} | {f['bfloat16']['psnr_1_32']} | |",
    ]
    if "planning" in res:
        p = res["planning"]
        lines.append(
            f"| CEM push success ({args.plan_episodes} planning-benchmark episodes) | "
            f"{p['float32']['success']} | {p['bfloat16']['success']} | |"
        )
    lines += ["", f"bf16 against fp32 directly: {f['bf16_vs_fp32_psnr']} dB PSNR."]
    replace_section("precision", "\n".join(lines), ROOT / "docs" / "fidelity.md")


if __name__ == "__main__":
    main()
