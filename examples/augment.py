"""Data augmentation with a world model, end to end, on push-64.

The seed workflow of the hosted service, locally: take real episodes (here: the exact toy
world plays the real robot), roll the world model out from each episode's start frame
with K perturbed copies of its actions, estimate the cost first, run it reproducibly,
check the quality (PSNR of each variant against its unperturbed parent), and verify a
sample of rows by re-running them byte for byte.

    python examples/augment.py --out out/augment            # 12 episodes x (1 + 4) rows
    python examples/augment.py --out out/augment --lerobot  # a LeRobot v3 dataset instead

Run it twice: the second run finds every row done and skips it (the sink resumes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from dreamgym import seeds
from dreamgym.toyworld import write_episodes
from engine import Engine
from engine.bulk import (
    EpisodeDirSource,
    LeRobotDataset,
    PerturbedSource,
    RolloutSink,
    estimate_cost,
    predict_many,
    verify,
)
from engine.bulk.sinks import read_journal


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/augment")
    ap.add_argument("--episodes", type=int, default=12)
    ap.add_argument("--k", type=int, default=4, help="perturbed variants per episode")
    ap.add_argument("--scale", type=float, default=0.05, help="std of the action noise")
    ap.add_argument("--lerobot", action="store_true", help="write a LeRobot v3 dataset")
    args = ap.parse_args(argv)
    out = Path(args.out)

    # 1. "real" episodes: the toy world's scripted and random pushes, 16 actions each
    episodes = out / "episodes"
    if not (episodes / "toy.npz").exists():
        write_episodes(episodes / "toy.npz", args.episodes, seed=seeds.base("examples"), length=16)
    engine = Engine.load("push-64")
    spec = engine.spec
    source = PerturbedSource(
        EpisodeDirSource(episodes), k=args.k, scale=args.scale, seed=0, low=spec.action_low, high=spec.action_high
    )

    # 2. the cost, before running: rows, frames, engine time (probed), and at the hosted price
    print("estimate:", estimate_cost(source, engine, price_per_frame=0.0005))

    # 3. the run: videos/<row_id>.mp4 + metadata.parquet with a receipt per row (or LeRobot v3)
    sink = (
        RolloutSink.lerobot(out / "dataset", task="push the block")
        if args.lerobot
        else RolloutSink.dir(out / "rollouts")
    )
    result = predict_many(engine, source, sink)
    print(
        f"{result.ok} rollouts, {result.failed} failed, {result.skipped} already done, "
        f"{result.flagged} flagged; {result.rows_per_s:.2f} rows/s -> {result.output_uri}"
    )

    # 4. quality: how far each variant moved from its parent (PSNR of the videos, dB)
    if args.lerobot:
        recs = [json.loads(ep["receipt"]) for ep in LeRobotDataset(out / "dataset").episodes]
    else:
        recs = [r for r in read_journal(out / "rollouts" / "metadata.jsonl") if r.get("status") == "ok"]
    drift = np.array([r["psnr_vs_parent_db"] for r in recs if r.get("variant") and r.get("psnr_vs_parent_db")])
    if len(drift):
        print(
            f"PSNR of the {len(drift)} variants against their parents: median {np.median(drift):.1f} dB, "
            f"min {drift.min():.1f} dB; flagged below 20 dB: {int((drift < 20).sum())}"
        )

    # 5. reproducibility: re-run a sample of rows from the sink alone and compare bytes
    if not args.lerobot:
        report = verify(out / "rollouts", engine, sample=5)
        print(f"verify: {report.checked} re-run, {report.matched} identical, {len(report.mismatches)} mismatched")


if __name__ == "__main__":
    main()
