"""Wall time of one CEM re-plan on the embedded model, 16-action horizon: the planner of the
planning benchmark and the demo (CEM 16 x 2 with the lattice strategies injected, +1 rollout
of the returned mean: 33 rollouts), and the larger CEM 32 x 3 (+1: 97 rollouts).

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
import time
from pathlib import Path

import numpy as np
import torch
from _docs import replace_section
from planning import make_planner

import dreamgym
from dreamgym import seeds
from dreamgym.toyworld import task_episode, task_scorer
from engine import Engine
from engine.scoring import LatentGoalDistance
from planners import MPC

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
SEED = seeds.base("replan_benchmark")  # start/goal states for this benchmark only


class WithSteps:
    """The engine as a RolloutModel that samples with ``num_steps`` steps per chunk."""

    def __init__(self, engine: Engine, num_steps: int):
        self.engine, self.spec, self.num_steps = engine, engine.spec, num_steps

    def predict_batch(self, start_frame, actions, seed=0):
        return self.engine.predict_batch(start_frame, actions, seed=seed, num_steps=self.num_steps)

    def predict_latents(self, start_frame, actions, seed=0):
        return self.engine.predict_latents(start_frame, actions, seed=seed, num_steps=self.num_steps)

    def encode_still(self, frames):
        return self.engine.encode_still(frames)


def replan_seconds(engine: Engine, num_steps: int, episodes: int, budget: str, latent: bool = False) -> list[float]:
    """Seconds of the first (cold) re-plan of ``episodes`` push episodes with the planning
    benchmark's CEM at ``budget`` ("small": 16 x 2 + lattice, "full": 32 x 3 + lattice); with
    ``latent`` the goal-latent scorer (no decoding of the last chunk) replaces the task's."""
    return [replan_seconds_from(engine, num_steps, budget, latent, ep) for ep in range(episodes)]


def replan_seconds_from(engine: Engine, num_steps: int, budget: str, latent: bool, ep: int) -> float:
    """One episode's first re-plan (:func:`replan_seconds` for episode ``ep`` alone)."""
    start, goal = task_episode("push", ep, SEED)
    env = dreamgym.PushEnv(task="push")
    obs, info = env.reset(seed=ep, options={"state": start, "goal": goal})
    scorer = (
        LatentGoalDistance.for_model(engine, info["goal_image"]) if latent else task_scorer("push", info["goal_image"])
    )
    planner = make_planner("cem", WithSteps(engine, num_steps), scorer, ep, budget)
    planner.keep_frames = False
    t0 = time.perf_counter()
    planner.plan(obs)
    return time.perf_counter() - t0


def control_period(engine: Engine, ep: int, background: bool, hz: float, steps: int) -> float:
    """Seconds per executed chunk of the demo's MPC loop on push episode ``ep``, the toy world
    run as a robot at ``hz`` actions per second (:class:`dreamgym.RobotClock`)."""
    start, goal = task_episode("push", ep, SEED)
    env = dreamgym.RobotClock(dreamgym.PushEnv(task="push"), hz)
    obs, info = env.reset(seed=ep, options={"state": start, "goal": goal})
    planner = make_planner("cem", engine, task_scorer("push", info["goal_image"]), ep, "small")
    planner.keep_frames = False
    trace = MPC(planner).run(env, max_steps=steps, obs=obs, background=background)
    return trace.wall_s / len(trace.plans)


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
    ap.add_argument("--loop-episodes", type=int, default=2, help="episodes of the control-loop rows (0: skip)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    eng = Engine.load()
    bf16 = Engine.load(dtype="bfloat16")
    default = eng.spec.num_steps
    configs = [  # (label, engine, budget, sampler steps, latent scorer)
        (f"today: CEM 16 x 2 + 1 (33 rollouts), {default} steps, fp32, pixel scorer", eng, "small", default, False),
        ("the same in bf16", bf16, "small", default, False),
        ("fp32, goal-latent scorer (last chunk not decoded)", eng, "small", default, True),
        ("bf16 + goal-latent scorer (everything on)", bf16, "small", default, True),
        (f"CEM 32 x 3 + 1 (97 rollouts), {default} steps, fp32, pixel scorer", eng, "full", default, False),
    ]
    probe_before = speed_probe(eng)
    for _, model, budget, steps, latent in configs:
        replan_seconds(model, steps, 1, budget, latent)  # warm-up
    times: list[list[float]] = [[] for _ in configs]
    for ep in range(args.episodes):  # interleaved: every row sees the machine as it is at that moment
        for i, (_, model, budget, steps, latent) in enumerate(configs):
            times[i].append(replan_seconds_from(model, steps, budget, latent, ep))
    rows = []
    for (label, _, budget, steps, latent), ts in zip(configs, times, strict=True):
        rows.append(
            {
                "config": label,
                "budget": budget,
                "num_steps": steps,
                "latent_scorer": latent,
                "replan_s": ts,
                "median_s": float(np.median(ts)),
            }
        )
        print(f"{label}: median {np.median(ts):.2f} s per re-plan ({', '.join(f'{t:.2f}' for t in ts)})")
    loop = {}
    if args.loop_episodes:
        hz, steps = 10.0, 48  # a 10 Hz robot, 6 chunks of 8 actions per episode
        runs = {(d, bg): [] for d in ("fp32", "bf16") for bg in (False, True)}
        for ep in range(args.loop_episodes):  # interleaved
            for (d, bg), out in runs.items():
                out.append(control_period(eng if d == "fp32" else bf16, ep, bg, hz, steps))
        loop = {f"{d}{'_background' if bg else ''}": float(np.mean(v)) for (d, bg), v in runs.items()}
        print("control loop, s per chunk:", {k: round(v, 3) for k, v in loop.items()})
    probe_after = speed_probe(eng)
    print(f"speed probe (K=1, 16 frames): {probe_before:.2f} s before, {probe_after:.2f} s after")
    result = {
        "speed_probe_k1_s": [probe_before, probe_after],
        "machine": f"{torch.get_num_threads()} threads, torch {torch.__version__}, Python {platform.python_version()}",
        "planner": (
            "CEM as in the planning benchmark (lattice strategies injected into the first iteration), "
            "horizon 16, push-64"
        ),
        "rows": rows,
        "control_loop_s_per_chunk": loop,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "replan.json").write_text(json.dumps(result, indent=2) + "\n")
    base = rows[0]["median_s"]
    lines = [
        "## CEM re-plan time (CPU)",
        "",
        f"{result['planner']}; {result['machine']}; median over {args.episodes} push start frames, "
        "all rows from one run, interleaved episode by episode. Target (the speed issue): at most "
        "0.5 s on 2 cores. Speed probe (one K = 1, 16-frame "
        f"rollout at 4 steps): {probe_before:.2f} s before the rows, {probe_after:.2f} s after "
        "(0.70 s in the engine benchmark of 2026-11-21 13:28 UTC).",
        "",
        "| configuration | s per re-plan | vs the first row |",
        "|---|---:|---:|",
    ]
    lines += [f"| {r['config']} | {r['median_s']:.2f} | {r['median_s'] / base:.2f} |" for r in rows]
    if loop:
        today = loop["fp32"]
        lines += [
            "",
            f"The demo's control loop on a robot that takes 0.1 s per action (`dreamgym.RobotClock` at 10 Hz; "
            f"{args.loop_episodes} push episodes of 6 chunks, interleaved): wall seconds per executed chunk.",
            "",
            "| loop | s per chunk | vs today |",
            "|---|---:|---:|",
            f"| today: plan, then execute (fp32) | {today:.2f} | 1.00 |",
            f"| planning in the background (fp32) | {loop['fp32_background']:.2f} | "
            f"{loop['fp32_background'] / today:.2f} |",
            f"| bf16, plan then execute | {loop['bf16']:.2f} | {loop['bf16'] / today:.2f} |",
            f"| bf16 + planning in the background | {loop['bf16_background']:.2f} | "
            f"{loop['bf16_background'] / today:.2f} |",
        ]
    replace_section("replan", "\n".join(lines))
    return result


if __name__ == "__main__":
    main()
