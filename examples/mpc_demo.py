"""The main job: MPC with the embedded world model, executed in the exact toy world.

    python examples/mpc_demo.py --out out/demo [--task push|reach] [--seed 0] [--model push-64|exact]

The planner is the one whose success rates docs/planning.md reports: CEM with 16 candidates x
2 iterations (+1 rollout of the returned mean: 33 rollouts per re-plan), 16-frame horizon, the
lattice strategies injected into its first iteration. ``--population 32 --iterations 3`` gives
a larger search (97 rollouts per re-plan, about 3x the time). It rolls its candidates out
in the `push-64` world model, which runs on the CPU with weights shipped in the package (no
network). The first chunk of the plan is executed in `dreamgym/Push-v0` (the "real robot"),
then it re-plans with warm start. It writes:

    executed.mp4         what happened in the simulator, next to the goal, with step, re-plan
                         and distance to the goal
    candidates.mp4       the first re-plan as the model saw it: every CEM iteration's best
                         candidates next to the start and the goal, then the executed plan
    scores.png           per re-plan: best and mean candidate score per CEM iteration, and the
                         score of the plan it returned (the number printed for that re-plan)
    summary.json         success, distances, timing

and prints success and timing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import dreamgym
import engine
from dreamgym import toyworld as tw
from dreamgym.toyworld import MAX_STEPS, SUCCESS_PX, seeds, task_distance, task_episode, task_scorer
from engine import write_mp4
from engine.files import atomic_write_bytes
from planners import MPC, lattice_cem
from planners.viz import caption, hstack, panel, plot_scores, vstack

DEMO_SEED = seeds.base("demo")  # demo episodes: disjoint from training, held-out, benchmark and evaluation seeds


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
    model = engine.open("push-64") if args.model == "push-64" else dreamgym.ToyWorldModel()
    t_load = time.perf_counter() - t_load

    start, goal = task_episode(args.task, args.seed, DEMO_SEED)
    env = gym.make("dreamgym/Push-v0", task=args.task, max_episode_steps=10_000)
    obs, info = env.reset(seed=args.seed, options={"state": start, "goal": goal})
    goal_image = info["goal_image"]
    print(f"task {args.task}: start distance {info['distance']:.1f} px; planning with the {args.model} model")

    recorder = Recorder(model)
    scorer = task_scorer(args.task, goal_image)
    planner = lattice_cem(
        recorder,
        scorer,
        horizon=16,
        population=args.population,
        iterations=args.iterations,
        seed=args.seed,
    )
    plans = []

    def on_plan(result):
        plans.append(result)
        recorder.on = False  # keep the first re-plan's rollouts only
        print(
            f"  re-plan {len(plans)}: plan score {result.score:.2f}, {result.rollouts} rollouts, {result.wall_s:.2f} s"
        )

    t0 = time.perf_counter()
    trace = MPC(planner).run(env, max_steps=MAX_STEPS[args.task], obs=obs, on_plan=on_plan)
    wall = time.perf_counter() - t0

    execute = model.spec.chunk_size  # actions executed per re-plan (MPC's default)
    write_mp4(out / "executed.mp4", executed_video(trace.frames, goal_image, goal, args.task, execute), fps=5)
    write_mp4(out / "candidates.mp4", first_replan_video(recorder.calls, scorer, obs, goal_image, plans[0]), fps=4)
    plot_scores(out / "scores.png", plans, title=f"CEM on {args.model}, task {args.task}")
    plan_s = [p.wall_s for p in plans]
    summary = {
        "task": args.task,
        "model": args.model,
        "success": trace.success,
        "final_distance_px": round(float(trace.final_info["distance"]), 2),
        "steps": len(trace.actions),
        "replans": len(plans),
        "plan_scores": [round(float(p.score), 2) for p in plans],
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


class Recorder:
    """The model, recording the (candidates, predicted frames) of every rollout call while ``on``."""

    def __init__(self, model) -> None:
        self.model, self.spec, self.calls, self.on = model, model.spec, [], True

    def predict_batch(self, frame, actions, seed=0):
        batch = self.model.predict_batch(frame, actions, seed=seed)
        if self.on:
            self.calls.append((np.asarray(actions).copy(), np.asarray(batch.frames).copy()))
        return batch


def executed_video(frames, goal_image, goal, task, execute):
    """Each executed frame next to the goal, titled with step, re-plan and distance."""
    n = len(frames) - 1
    out = []
    for k, f in enumerate(frames):
        d = float(task_distance(tw.locate(f), goal, task))
        what = "pusher" if task == "reach" else "block"
        head = caption(
            2 * 64 * 4 + 8,
            [
                f"step {k} of {n}   re-plan {k // execute + 1 if k < n else (n - 1) // execute + 1}",
                f"{what} to goal: {d:.1f} px (success at <= {SUCCESS_PX[task]:g} px)",
            ],
            size=18,
        )
        out.append(vstack([head, hstack([panel(f, "executed (toy world)"), panel(goal_image, "goal")])], gap=0))
    return np.stack(out)


def first_replan_video(calls, scorer, start, goal_image, plan, show: int = 8):
    """Every CEM iteration of the first re-plan (its best ``show`` candidates as the model
    predicts them, ranked by score), then the plan that was executed (the CEM mean)."""
    segments = []
    iterations = calls[:-1]  # the last call rolls out the returned plan
    for i, (acts, frames) in enumerate(iterations):
        scores = np.asarray(scorer(frames, acts), dtype=np.float64).reshape(-1)
        order = np.argsort(-np.nan_to_num(scores, nan=-np.inf))[:show]
        t = frames.shape[1]
        clips = []
        for step in range(t):
            head = caption(
                800,
                [
                    f"first re-plan, CEM iteration {i + 1} of {len(iterations)}: the {len(order)} best of "
                    f"{len(acts)} candidates,",
                    f"as the world model predicts them (frame {step + 1} of {t}); score: higher is better",
                ],
                size=18,
            )
            tiles = [panel(frames[j, step], f"#{r + 1}: {scores[j]:.2f}", scale=2) for r, j in enumerate(order)]
            grid = vstack([hstack(tiles[:4]), hstack(tiles[4:])]) if len(tiles) > 4 else hstack(tiles)
            fixed = vstack([panel(start, "start", scale=2), panel(goal_image, "goal", scale=2)])
            clips.append(vstack([head, hstack([fixed, grid], gap=24)], gap=0))
        segments.extend(clips * 2)
    acts, frames = calls[-1]
    head = caption(
        1100,
        [
            f"executed: the plan CEM returned (its mean), score {plan.score:.2f}",
            "its first chunk runs in the toy world",
        ],
        size=18,
    )
    for step in range(frames.shape[1]):
        row = hstack(
            [
                panel(start, "start", scale=2),
                panel(frames[0, step], f"returned plan, frame {step + 1}", scale=4, border=(40, 180, 60)),
                panel(goal_image, "goal", scale=2),
            ],
            gap=24,
        )
        segments.extend([vstack([head, row], gap=0)] * 2)
    h = max(s.shape[0] for s in segments)
    w = max(s.shape[1] for s in segments)
    pad = [np.pad(s, ((0, h - s.shape[0]), (0, w - s.shape[1]), (0, 0)), constant_values=255) for s in segments]
    return np.stack(pad)


if __name__ == "__main__":
    main()
