"""Measures the spec options that follow the reference rollout (engine issue: reference parity)
on the embedded model against the exact toy world, to choose push-64's defaults.

* ``decode_start_latent``: decode the clean start latent ("clean") or the latent frame 0 the
  sampler left there ("sampled", what the reference decodes).
* ``pixel_quantization``: round decoded pixels to nearest ("round") or truncate them as the
  reference does ("truncate"); with pixel handoff the quantised frame starts the next chunk.

On the held-out episodes of ``benchmarks/fidelity.py``: PSNR against the simulator over
frames 1-16 and 1-32, pusher / block position errors at frame 16, and how far the sampled
frame-0 latent drifts from the clean one (relative L2 per chunk).

    python benchmarks/reference_options.py [--episodes 100]

Writes benchmarks/results/reference_options.json and a section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from _docs import replace_section
from fidelity import rollout_model, summarise

from dreamgym.toyworld.episodes import HELDOUT_SEED, generate_episodes
from engine import Engine
from engine.sampling import chunk_noise, denoise_chunk

ROOT = Path(__file__).resolve().parents[1]


def start_latent_drift(eng: Engine, frames0: np.ndarray, actions: np.ndarray) -> float:
    """Median relative L2 distance between the clean start latent and the frame-0 latent the
    sampler leaves behind, over the first chunk of each episode."""
    spec = eng.spec
    cond = eng.encode(frames0)
    h, w = spec.latent_size
    shape = (spec.latent_channels, spec.latent_frames_per_chunk, h, w)
    noise = chunk_noise([0] * len(frames0), [0] * len(frames0), shape)
    with torch.no_grad():
        lat = denoise_chunk(
            eng.dit,
            cond,
            torch.from_numpy(actions[:, : spec.chunk_size]),
            noise,
            num_steps=spec.num_steps,
            guidance=spec.guidance,
            shift=spec.shift,
            sigma_max=spec.sigma_max,
            keep_sampled_start=True,
        )
    rel = (lat[:, :, :1] - cond).flatten(1).norm(dim=1) / cond.flatten(1).norm(dim=1)
    return float(rel.median())


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--engine", default="push-64")
    args = ap.parse_args(argv)
    base = Engine.load(args.engine)
    data = generate_episodes(args.episodes, seed=HELDOUT_SEED, length=32)
    frames, actions, states = data["frames"], data["actions"], data["states"]
    truth, st = frames[:, 1:], states[:, 1:]
    pushed16 = np.linalg.norm(states[:, 16, 2:] - states[:, 0, 2:], axis=-1) > 1.0
    rows = []
    for start in ("clean", "sampled"):
        for quant in ("round", "truncate"):
            spec = base.spec.replace(decode_start_latent=start, pixel_quantization=quant)
            eng = Engine(spec, base.vae, base.dit)
            pred = rollout_model(eng, frames[:, 0], actions, 0)
            row = summarise(f"decode_start_latent={start}, pixel_quantization={quant}", pred, truth, st, pushed16)
            row.update(decode_start_latent=start, pixel_quantization=quant)
            rows.append(row)
            print(row["name"], f"{row['mean_psnr_first16']:.3f} dB", flush=True)
    result = {
        "engine": args.engine,
        "episodes": args.episodes,
        "num_steps": base.spec.num_steps,
        "start_latent_rel_drift_median": start_latent_drift(base, frames[:, 0], actions),
        "rows": rows,
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "reference_options.json").write_text(json.dumps(result, indent=2))
    write_doc(result)
    return result


def write_doc(result: dict) -> None:
    lines = [
        "## Reference rollout options on `push-64`",
        "",
        f"`benchmarks/reference_options.py`: {result['episodes']} held-out episodes, 32 frames, "
        f"{result['num_steps']} sampler steps, against the exact simulator. The sampler leaves latent frame 0 "
        f"{result['start_latent_rel_drift_median']:.2e} (median relative L2) from the clean start latent.",
        "",
        "| decode_start_latent | pixel_quantization | PSNR 1-16 (dB) | PSNR 1-32 (dB) | pusher err @16 (px) | "
        "block err @16, pushed (px) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['decode_start_latent']} | {r['pixel_quantization']} | {r['mean_psnr_first16']:.3f} | "
            f"{r['mean_psnr_all']:.3f} | {r['pusher_err_px_at16_median']:.2f} | "
            f"{r['block_err_px_at16_pushed_median']:.2f} |"
        )
    replace_section("reference-options", "\n".join(lines))


if __name__ == "__main__":
    main()
