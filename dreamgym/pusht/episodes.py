"""The PushT dataset: episodes of the scripted expert (with action noise) and of a weak
exploration policy (random steps within 100 px of the block), half each, as ``.npz``.

Every episode is a pure function of its seed (``seeds.seed(purpose, i)``: the training range by
default). Episode ``i`` is the expert's when ``i`` is even (its noise std drawn in [0, 0.3]
action units), the weak policy's when odd.

File layout (``np.load``), the toy world's plus a behaviour column: ``frames`` (N, T+1, 64, 64,
3) uint8, ``actions`` (N, T, 2) float32, ``states`` (N, T+1, 5) float64, ``seeds`` (N,) int64,
``behaviour`` (N,) int64 (0 expert, 1 weak). The trainer reads ``frames`` and ``actions``.

Command line (``--lerobot DIR`` also writes the episodes as a LeRobotDataset v3 through the
bulk sink, :func:`engine.bulk.episodes_to_lerobot`; it needs pyarrow, the ``bulk`` extra)::

    python -m dreamgym.pusht.episodes --out runs/data/pusht_train.npz --episodes 1000 --length 96
    python -m dreamgym.pusht.episodes --out runs/data/pusht_train.npz --lerobot runs/data/pusht_lerobot
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from dreamgym import seeds
from engine.files import atomic_write_npz
from engine.validation import as_int

from .sim import PushTSim
from .tasks import rollout_episode

NOISE_MAX = 0.3
LEROBOT_TASK = "Push the T-shaped block onto the goal zone."


def generate_episodes(n: int, *, length: int = 96, purpose: str = "training", progress: bool = False) -> dict:
    """``n`` episodes of ``length`` steps from ``purpose``'s seed range (see the module docstring)."""
    n = as_int(n, "episodes", low=1)
    length = as_int(length, "length", low=1)
    sim = PushTSim()
    out = {k: [] for k in ("frames", "actions", "states", "seeds", "behaviour")}
    t0 = time.perf_counter()
    for i in range(n):
        seed = seeds.seed(purpose, i)
        expert = i % 2 == 0
        noise = float(np.random.default_rng((seed, 1)).uniform(0.0, NOISE_MAX)) if expert else 0.0
        ep = rollout_episode(seed, length, "expert" if expert else "weak", noise=noise, sim=sim)
        for key in ("frames", "actions", "states"):
            out[key].append(ep[key])
        out["seeds"].append(seed)
        out["behaviour"].append(0 if expert else 1)
        if progress and (i + 1) % 50 == 0:
            print(f"{i + 1}/{n} episodes, {time.perf_counter() - t0:.0f} s", flush=True)
    return {k: np.asarray(v, dtype=np.int64) if k in ("seeds", "behaviour") else np.stack(v) for k, v in out.items()}


def write_episodes(
    path: str | os.PathLike, n: int, *, length: int = 96, purpose: str = "training", progress=False
) -> Path:
    """Generate ``n`` episodes and write them atomically to ``path`` (.npz)."""
    return atomic_write_npz(path, generate_episodes(n, length=length, purpose=purpose, progress=progress))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="write PushT episodes (half expert with noise, half weak) to an .npz")
    ap.add_argument("--out", required=True)
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--length", type=int, default=96)
    ap.add_argument("--purpose", default="training", choices=list(seeds.PURPOSES), help="the seed range")
    ap.add_argument(
        "--lerobot", default=None, help="also write them as a LeRobotDataset v3 in this directory (from --out)"
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = Path(args.out)
    if args.lerobot is None or not out.is_file():
        path = write_episodes(out, args.episodes, length=args.length, purpose=args.purpose, progress=True)
        size = Path(path).stat().st_size
        print(f"wrote {args.episodes} episodes to {path} ({size / 1e6:.1f} MB) in {time.perf_counter() - t0:.0f} s")
    if args.lerobot is not None:
        from engine.bulk import episodes_to_lerobot

        t0 = time.perf_counter()
        root = episodes_to_lerobot(out, args.lerobot, task=LEROBOT_TASK, fps=10, prefix="pusht")
        size = sum(f.stat().st_size for f in Path(root).rglob("*") if f.is_file())
        print(f"wrote {out} as a LeRobotDataset v3 in {root} ({size / 1e6:.1f} MB) in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
