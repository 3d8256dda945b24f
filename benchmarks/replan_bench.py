"""Wall time of one CEM re-plan on the embedded model: the issue's 32 candidates x 3
iterations (+1 rollout of the returned mean), 16-action horizon.

Each configuration plans from the same start frames (the first re-plan of a few push
episodes, cold start) and reports the median re-plan over them; all configurations run in
one process, so their ratios come from one run. Writes
``benchmarks/results/replan.json`` and the "replan" section of ``docs/benchmarks.md``.

    python benchmarks/replan_bench.py [--episodes 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _docs import replace_section  # noqa: E402

import dreamgym  # noqa: E402
from dreamgym.tasks import task_episode, task_scorer  # noqa: E402
from engine import Engine  # noqa: E402
from planners import CEM  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
SEED = 30_000_000  # start/goal states for this benchmark only


class WithSteps:
    """The engine as a RolloutModel that samples with ``num_steps`` steps per chunk."""

    def __init__(self, engine: Engine, num_steps: int):
        self.engine, self.spec, self.num_steps = engine, engine.spec, num_steps

    def predict_batch(self, start_frame, actions, seed=0):
        return self.engine.predict_batch(start_frame, actions, seed=seed, num_steps=self.num_steps)


def replan_seconds(engine: Engine, num_steps: int, episodes: int) -> list[float]:
    times = []
    for ep in range(episodes):
        start, goal = task_episode("push", ep, SEED)
        env = dreamgym.PushEnv(task="push")
        obs, info = env.reset(seed=ep, options={"state": start, "goal": goal})
        planner = CEM(
            WithSteps(engine, num_steps),
            task_scorer("push", info["goal_image"]),
            horizon=16,
            population=32,
            iterations=3,
            elites=6,
            seed=ep,
        )
        planner.keep_frames = False
        t0 = time.perf_counter()
        planner.plan(obs)
        times.append(time.perf_counter() - t0)
    return times


def speed_probe(engine: Engine, repeats: int = 5) -> float:
    """Median seconds of one K = 1, 16-frame rollout at 4 sampler steps: a yardstick for how
    fast the machine is right now (this 2-core machine's speed drifts); 0.70 s in the
    engine benchmark run committed on 2026-11-21 at 13:28 (also 4 steps, same architecture)."""
    frame = engine.example_frames[0]
    actions = np.zeros((16, engine.spec.action_dim), np.float32)
    engine.predict(frame, actions, num_steps=4)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        engine.predict(frame, actions, num_steps=4)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    default = Engine.load().spec.num_steps
    configs = []
    for vae_batch in (8, 32):
        for steps in (4, 2):
            is_default = (steps, vae_batch) == (default, 8)
            label = f"{steps} steps, vae_batch {vae_batch}" + (" (default)" if is_default else "")
            configs.append((label, dict(vae_batch=vae_batch), steps))
    rows = []
    probe_before = speed_probe(Engine.load())
    for label, kw, steps in configs:
        eng = Engine.load(**kw)
        replan_seconds(eng, steps, 1)  # warm-up
        ts = replan_seconds(eng, steps, args.episodes)
        rows.append({"config": label, "num_steps": steps, **kw, "replan_s": ts, "median_s": float(np.median(ts))})
        print(f"{label}: median {np.median(ts):.2f} s per re-plan ({', '.join(f'{t:.2f}' for t in ts)})")
    probe_after = speed_probe(Engine.load())
    print(f"speed probe (K=1, 16 frames): {probe_before:.2f} s before, {probe_after:.2f} s after")
    result = {
        "speed_probe_k1_s": [probe_before, probe_after],
        "machine": f"{torch.get_num_threads()} threads, torch {torch.__version__}, Python {platform.python_version()}",
        "planner": "CEM 32 x 3 (+1 rollout of the returned mean), horizon 16, push-64",
        "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "replan.json").write_text(json.dumps(result, indent=2) + "\n")
    base = rows[0]["median_s"]  # 4 steps, vae_batch 8: the shipped setting before 2 steps became the default
    lines = [
        "## CEM re-plan time (CPU)",
        "",
        f"{result['planner']}; {result['machine']}; median over {args.episodes} push start frames, "
        "all rows from one run. Target: at most 10 s on 2 cores. Speed probe (one K = 1, 16-frame "
        f"rollout at 4 steps): {probe_before:.2f} s before the rows, {probe_after:.2f} s after "
        "(0.70 s in the engine benchmark of 2026-11-21 13:28 UTC).",
        "",
        "| configuration | s per re-plan | vs 4 steps, vae_batch 8 |",
        "|---|---:|---:|",
    ]
    lines += [f"| {r['config']} | {r['median_s']:.2f} | {r['median_s'] / base:.2f} |" for r in rows]
    replace_section("replan", "\n".join(lines))
    return result


if __name__ == "__main__":
    main()
