"""Does the embedded model rank candidate plans as the simulator does? For the first re-plan of
push episodes, roll K Gaussian candidates (as CEM / random shooting draw them around a zero
plan) and K lattice candidates out in `push-64` and in the exact toy world, and compare:
pusher and block position error at the last frame, the rank correlation of predicted and true
scores, and the regret of choosing by the predicted score.

    python benchmarks/candidate_ranking.py [--episodes 12] [--k 16] [--start episode|contact]

``--start contact`` moves the pusher to 1 px behind the block on the line from the block's
goal through the block (the state a push re-plan starts from once contact is made).
Writes benchmarks/results/candidate_ranking[_contact].json and prints a summary.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

import dreamgym
import engine
from dreamgym import seeds
from dreamgym import toyworld as tw
from dreamgym.toyworld import task_episode, task_scorer
from planners.lattice import lattice_candidates

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
PLAN_SEED = seeds.base("planning_benchmark")  # the planning benchmark's push episodes


def behind_the_block(start: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """``start`` with the pusher 1 px short of touching the block, on the side away from the
    block's goal (clipped to the table)."""
    block, target = start[2:], goal[2:]
    away = block - target
    away = away / max(float(np.linalg.norm(away)), 1e-6)
    to_edge = tw.BLOCK_HALF / max(float(np.abs(away).max()), 1e-6)  # centre to the square's edge along `away`
    gap = tw.PUSHER_RADIUS + to_edge + 1.0
    pusher = np.clip(block + gap * away, tw.PUSHER_RADIUS, tw.SIZE - tw.PUSHER_RADIUS)
    return np.concatenate([pusher, block])


def ranks(x: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(x))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=12)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--std", type=float, default=0.5, help="Gaussian candidates' std (CEM's init_std)")
    ap.add_argument("--start", choices=["episode", "contact"], default="episode")
    args = ap.parse_args(argv)
    eng, exact = engine.open("push-64"), dreamgym.ToyWorldModel()
    rng = np.random.default_rng(0)
    horizon, dim = 16, eng.spec.action_dim
    kinds = {name: {"pusher_err": [], "block_err": [], "rank_corr": [], "regret": []} for name in ("gauss", "lattice")}
    for ep in range(args.episodes):
        start, goal = task_episode("push", ep, PLAN_SEED)
        if args.start == "contact":
            start = behind_the_block(start, goal)
        frame = tw.render(start[None])[0]
        scorer = task_scorer("push", tw.render(goal[None])[0])
        cands = {
            "gauss": np.clip(rng.normal(0, args.std, (args.k, horizon, dim)), -1, 1).astype(np.float32),
            "lattice": lattice_candidates(np.zeros((horizon, dim), np.float32), (1.0,), (0.5, 1.5))[: args.k],
        }
        for name, acts in cands.items():
            acts = acts.astype(np.float32)
            pred = eng.predict_batch(frame, acts, seed=ep).frames
            true = exact.predict_batch(frame, acts).frames
            lp, lt = tw.locate(pred[:, -1]), tw.locate(true[:, -1])
            sp = scorer(torch.from_numpy(pred)).numpy()
            st = scorer(torch.from_numpy(true)).numpy()
            chosen = int(np.nanargmax(sp))
            r = kinds[name]
            r["pusher_err"] += np.linalg.norm(lp[:, :2] - lt[:, :2], axis=1).tolist()
            r["block_err"] += np.linalg.norm(lp[:, 2:] - lt[:, 2:], axis=1).tolist()
            r["rank_corr"].append(float(np.corrcoef(ranks(sp), ranks(st))[0, 1]))
            r["regret"].append(float(np.max(st) - st[chosen]))
    summary = {"start": args.start, "episodes": args.episodes, "k": args.k, "std": args.std, "kinds": {}}
    for name, r in kinds.items():
        summary["kinds"][name] = {
            "pusher_err_median_px": float(np.nanmedian(r["pusher_err"])),
            "block_err_median_px": float(np.nanmedian(r["block_err"])),
            "block_err_mean_px": float(np.nanmean(r["block_err"])),
            "rank_corr_median": float(np.median(r["rank_corr"])),
            "regret_median": float(np.median(r["regret"])),
            "regret_mean": float(np.mean(r["regret"])),
            "per_episode": {"rank_corr": r["rank_corr"], "regret": r["regret"]},
        }
        s = summary["kinds"][name]
        print(
            f"{name}: pusher err median {s['pusher_err_median_px']:.2f} px, block err median "
            f"{s['block_err_median_px']:.2f} px (mean {s['block_err_mean_px']:.2f}), rank correlation median "
            f"{s['rank_corr_median']:.2f}, regret median {s['regret_median']:.3f} (mean {s['regret_mean']:.3f})"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "candidate_ranking" + ("_contact" if args.start == "contact" else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    main()
