"""The main job: MPC with the embedded world model, executed in the exact toy world.

    python examples/mpc_demo.py --out out/demo [--task push|reach] [--seed 0] [--model push-64|exact]

The planner is the one whose success rates docs/planning.md reports: CEM with 16 candidates x
2 iterations (+1 rollout of the returned mean: 33 rollouts per re-plan), 16-frame horizon, the
lattice strategies injected into its first iteration. ``--population 32 --iterations 3`` gives
a larger search (97 rollouts per re-plan, about 3x the time). It rolls its candidates out
in the `push-64` world model, which runs on the CPU with weights shipped in the package (no
network). The first chunk of the plan is executed in `dreamgym/Push-v0` (the "real robot"),
then it re-plans with warm start. It writes:

    executed.mp4         what happened in the simulator, next to the goal image
    candidates.mp4       the first plan's candidates as predicted by the model, best first
    scores.png           score per CEM iteration over all re-plans
    summary.json         success, distances, timing

and prints success and timing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dreamgym  # noqa: E402
from dreamgym.tasks import MAX_STEPS, task_episode, task_scorer  # noqa: E402
from engine import write_mp4  # noqa: E402
from engine.files import atomic_write_bytes  # noqa: E402
from planners import MPC, lattice_cem  # noqa: E402
from planners.viz import plot_scores, write_candidate_grid  # noqa: E402

DEMO_SEED = 30_000_000  # demo episodes: disjoint from training, fidelity and benchmark seeds


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="out/demo")
    ap.add_argument("--task", choices=["push", "reach"], default="push")
    ap.add_argument("--seed", type=int, default=0, help="which demo episode")
    ap.add_argument("--model", choices=["push-64", "exact"], default="push-64")
    ap.add_argument("--population", type=int, default=16, help="CEM candidates per iteration")
    ap.add_argument("--iterations", type=int, default=2, help="CEM iterations per re-plan")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    t_load = time.perf_counter()
    model = dreamgym.resolve_engine("push-64") if args.model == "push-64" else dreamgym.ToyWorldModel()
    t_load = time.perf_counter() - t_load

    start, goal = task_episode(args.task, args.seed, DEMO_SEED)
    env = gym.make("dreamgym/Push-v0", task=args.task, max_episode_steps=10_000)
    obs, info = env.reset(seed=args.seed, options={"state": start, "goal": goal})
    goal_image = info["goal_image"]
    print(f"task {args.task}: start distance {info['distance']:.1f} px; planning with the {args.model} model")

    planner = lattice_cem(
        model,
        task_scorer(args.task, goal_image),
        horizon=16,
        population=args.population,
        iterations=args.iterations,
        seed=args.seed,
    )
    plans = []

    def on_plan(result):
        plans.append(result)
        print(f"  re-plan {len(plans)}: score {result.score:.4g}, {result.rollouts} rollouts, {result.wall_s:.2f} s")

    t0 = time.perf_counter()
    trace = MPC(planner).run(env, max_steps=MAX_STEPS[args.task], obs=obs, on_plan=on_plan)
    wall = time.perf_counter() - t0

    gap = np.full((len(trace.frames), 64, 2, 3), 255, np.uint8)
    side = np.concatenate([trace.frames, gap, np.repeat(goal_image[None], len(trace.frames), 0)], axis=2)
    write_mp4(out / "executed.mp4", np.repeat(np.repeat(side, 4, 1), 4, 2), fps=10)
    first = plans[0]
    write_candidate_grid(out / "candidates.mp4", first.frames, first.scores, fps=10, scale=2)
    plot_scores(out / "scores.png", plans, title=f"CEM on {args.model}, task {args.task}")
    plan_s = [p.wall_s for p in plans]
    summary = {
        "task": args.task,
        "model": args.model,
        "success": trace.success,
        "final_distance_px": round(float(trace.final_info["distance"]), 2),
        "steps": len(trace.actions),
        "replans": len(plans),
        "replan_s_mean": round(float(np.mean(plan_s)), 3),
        "replan_s_max": round(float(np.max(plan_s)), 3),
        "episode_s": round(wall, 2),
        "model_load_s": round(t_load, 2),
    }
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=2).encode())
    print(
        f"success: {trace.success} (final distance {summary['final_distance_px']} px after {summary['steps']} "
        f"actions, {summary['replans']} re-plans)"
    )
    print(
        f"timing: {summary['replan_s_mean']} s per re-plan (max {summary['replan_s_max']}), episode "
        f"{summary['episode_s']} s, model load {summary['model_load_s']} s"
    )
    print(f"wrote {out / 'executed.mp4'}, {out / 'candidates.mp4'}, {out / 'scores.png'}, {out / 'summary.json'}")
    return summary


if __name__ == "__main__":
    main()
