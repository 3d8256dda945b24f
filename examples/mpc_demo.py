"""The main job: MPC with the embedded world model, executed in a real world (the exact toy
world by default, or PushT on gym-pusht).

    python examples/mpc_demo.py --out out/demo [--world toy|pusht] [--task push|reach|pose|coverage]
                                [--seed 0] [--model exact|SPEC]

The planner is the one whose success rates docs/planning.md reports: CEM with 16 candidates x
2 iterations (+1 rollout of the returned mean: 33 rollouts per re-plan), 16-frame horizon, the
lattice strategies injected into its first iteration. ``--population 32 --iterations 3`` gives
a larger search (97 rollouts per re-plan, about 3x the time). In the toy world it rolls its
candidates out in the `push-64` world model, which runs on the CPU with weights shipped in the
package (no network). In PushT (``--world pusht``, the ``pusht`` extra) it plans on the world's
learned model, `pusht-64`, when its weights are installed, and on the exact model of gym-pusht
otherwise (it says which). The first chunk of the plan is executed in the world's real env
(`dreamgym/Push-v0` or `dreamgym/PushT-v0`), then it re-plans with warm start. It writes:

    executed.mp4         what happened in the real world, next to the goal, with step, re-plan
                         and the task's error read off the frame
    candidates.mp4       the first re-plan as the model saw it: every CEM iteration's best
                         candidates next to the start and the goal, then the executed plan
    scores.png           per re-plan: best and mean candidate score per CEM iteration, and the
                         score of the plan it returned (the number printed for that re-plan)
    summary.json         success, the task's final errors, timing

and prints success and timing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import dreamgym  # noqa: F401 - registers the env ids
import engine
from dreamgym.worlds import WORLDS, get_world
from dreamgym.wrappers import RobotClock
from engine import write_mp4
from engine.files import atomic_write_bytes
from planners import MPC, lattice_cem
from planners.viz import caption, hstack, panel, plot_scores, vstack

DEMO_PURPOSE = "demo"  # demo episodes: disjoint from training, held-out, benchmark and evaluation seeds


def open_model(world, name: str | None):
    """The model to plan on and its label: ``exact`` (the world's exact model), a spec name or
    checkpoint, or (None) the world's learned model, falling back to the exact one when the
    learned model's weights are not installed."""
    if name == "exact":
        return world.exact_model(), "exact"
    try:
        return engine.open(name or world.learned_model), name or world.learned_model
    except FileNotFoundError as e:
        if name is not None:
            raise
        print(f"note: {e}\n  planning on the exact model of the {world.name} world instead")
        return world.exact_model(), "exact"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="out/demo")
    ap.add_argument("--world", choices=sorted(WORLDS), default="toy")
    ap.add_argument("--task", default=None, help="toy: push (default) or reach; pusht: pose (default) or coverage")
    ap.add_argument("--seed", type=int, default=0, help="which demo episode")
    ap.add_argument("--model", default=None, help="exact, or a spec / checkpoint (default: the world's learned model)")
    ap.add_argument("--population", type=int, default=16, help="CEM candidates per iteration")
    ap.add_argument("--iterations", type=int, default=2, help="CEM iterations per re-plan")
    ap.add_argument("--background", action="store_true", help="plan the next chunk while the current one executes")
    ap.add_argument(
        "--robot-hz",
        type=float,
        default=0.0,
        help="run the env as a robot that takes 1/HZ s per action (0: as fast as the simulator)",
    )
    args = ap.parse_args(argv)
    if not 0 <= args.robot_hz <= 1000:
        ap.error(f"--robot-hz must be in [0, 1000], got {args.robot_hz}")
    world = get_world(args.world)
    task = args.task or world.tasks[0]
    if task not in world.tasks:
        ap.error(f"--task must be one of {list(world.tasks)} in the {world.name} world, got {task!r}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    t_load = time.perf_counter()
    model, model_name = open_model(world, args.model)
    t_load = time.perf_counter() - t_load

    start, goal = world.task(task, args.seed, DEMO_PURPOSE)
    env = world.make_env(task)
    if args.robot_hz:
        env = RobotClock(env, args.robot_hz)
    obs, info = env.reset(seed=args.seed, options=world.reset_options(start, goal, task))
    goal_image = info["goal_image"]
    print(
        f"{world.name} task {task}: start {errors_text(world.errors(start, goal, task))}; "
        f"planning with the {model_name} model"
    )

    recorder = Recorder(model)
    scorer = world.scorer(task, goal_image)
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
    trace = MPC(planner).run(env, max_steps=world.budget(task), obs=obs, on_plan=on_plan, background=args.background)
    wall = time.perf_counter() - t0

    execute = model.spec.chunk_size  # actions executed per re-plan (MPC's default)
    write_mp4(out / "executed.mp4", executed_video(world, task, trace.frames, goal_image, goal, execute), fps=5)
    write_mp4(out / "candidates.mp4", first_replan_video(recorder.calls, scorer, obs, goal_image, plans[0]), fps=4)
    plot_scores(out / "scores.png", plans, title=f"CEM on {model_name}, {world.name} task {task}")
    plan_s = [p.wall_s for p in plans]
    final = world.errors(trace.final_info["state"], goal, task)
    summary = {
        "world": world.name,
        "task": task,
        "model": model_name,
        "success": trace.success,
        "final": {k: round(float(v), 3) for k, v in final.items()},
        "criterion": world.criterion(task),
        "steps": len(trace.actions),
        "replans": len(plans),
        "plan_scores": [round(float(p.score), 2) for p in plans],
        "replan_s_mean": round(float(np.mean(plan_s)), 3),
        "replan_s_max": round(float(np.max(plan_s)), 3),
        "episode_s": round(wall, 2),
        "control_period_s": round(wall / len(plans), 3),  # wall time per executed chunk
        "background_planning": args.background,
        "robot_hz": args.robot_hz,
        "model_load_s": round(t_load, 2),
    }
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=2).encode())
    print(
        f"success: {trace.success} (final {errors_text(final)}; success at {world.criterion(task)}; "
        f"{summary['steps']} actions, {summary['replans']} re-plans)"
    )
    print(
        f"timing: {summary['replan_s_mean']} s per re-plan (max {summary['replan_s_max']}), episode "
        f"{summary['episode_s']} s ({summary['control_period_s']} s per chunk"
        f"{', planning in the background' if args.background else ''}), model load {summary['model_load_s']} s"
    )
    print(f"wrote {out / 'executed.mp4'}, {out / 'candidates.mp4'}, {out / 'scores.png'}, {out / 'summary.json'}")
    return summary


def errors_text(errors: dict) -> str:
    """``{"block_distance_px": 3.2}`` -> ``"block distance 3.2 px"``."""
    parts = []
    for key, value in errors.items():
        unit = next((u for u in ("px", "deg") if key.endswith("_" + u)), "")
        label = key.removesuffix("_" + unit) if unit else key
        parts.append(f"{label.replace('_', ' ')} {value:.1f} {unit}" if unit else f"{label} {value:.3f}")
    return ", ".join(parts)


class Recorder:
    """The model, recording the (candidates, predicted frames) of every rollout call while ``on``."""

    def __init__(self, model) -> None:
        self.model, self.spec, self.calls, self.on = model, model.spec, [], True

    def predict_batch(self, frame, actions, seed=0):
        batch = self.model.predict_batch(frame, actions, seed=seed)
        if self.on:
            self.calls.append((np.asarray(actions).copy(), np.asarray(batch.frames).copy()))
        return batch


def executed_video(world, task, frames, goal_image, goal, execute):
    """Each executed frame next to the goal, titled with step, re-plan and the task's errors as
    read off the frame (what a frame-only judge sees)."""
    n = len(frames) - 1
    out = []
    for k, f in enumerate(frames):
        read = world.read_state(f)
        seen = errors_text(world.errors(read, goal, task)) if np.isfinite(read).all() else "objects not readable"
        head = caption(
            2 * 64 * 4 + 8,
            [
                f"step {k} of {n}   re-plan {k // execute + 1 if k < n else (n - 1) // execute + 1}",
                seen,
                f"success at {world.criterion(task)}",
            ],
            size=18,
        )
        out.append(
            vstack([head, hstack([panel(f, f"executed ({world.name} world)"), panel(goal_image, "goal")])], gap=0)
        )
    return np.stack(out)


def first_replan_video(calls, scorer, start, goal_image, plan, show: int = 8):
    """Every CEM iteration of the first re-plan (its best ``show`` candidates as the model
    predicts them, ranked by score), then the plan that was executed (the CEM mean)."""
    segments = []
    units = getattr(scorer, "units", "the scorer's own units")
    iterations = calls[:-1]  # the last call rolls out the returned plan
    for i, (acts, frames) in enumerate(iterations):
        scores = np.asarray(scorer(frames, acts), dtype=np.float64).reshape(-1)
        order = np.argsort(-np.nan_to_num(scores, nan=-np.inf))[:show]
        t = frames.shape[1]
        same = np.unique(np.round(scores[order], 2)).size < len(order)
        clips = []
        for step in range(t):
            tiles = [panel(frames[j, step], f"#{r + 1}: {scores[j]:.2f}", scale=2) for r, j in enumerate(order)]
            grid = vstack([hstack(tiles[:4]), hstack(tiles[4:])]) if len(tiles) > 4 else hstack(tiles)
            fixed = vstack([panel(start, "start", scale=2), panel(goal_image, "goal", scale=2)])
            body = hstack([fixed, grid], gap=24)
            lines = [
                f"first re-plan, CEM iteration {i + 1} of {len(iterations)}: the {len(order)} best of "
                f"{len(acts)} candidates as the world model predicts them (frame {step + 1} of {t})",
                f"score (higher is better): {units}",
            ]
            if same:
                lines.append("equal scores: candidates that end in the same place score the same")
            clips.append(vstack([caption(body.shape[1], lines, size=14), body], gap=0))
        segments.extend(clips * 2)
    acts, frames = calls[-1]
    for step in range(frames.shape[1]):
        row = hstack(
            [
                panel(start, "start", scale=2),
                panel(frames[0, step], f"returned plan, frame {step + 1}", scale=4, border=(40, 180, 60)),
                panel(goal_image, "goal", scale=2),
            ],
            gap=24,
        )
        lines = [
            f"executed: the plan CEM returned (its mean), score {plan.score:.2f};",
            "its first chunk runs in the real world",
        ]
        segments.extend([vstack([caption(row.shape[1], lines, size=14), row], gap=0)] * 2)
    h = max(s.shape[0] for s in segments)
    w = max(s.shape[1] for s in segments)
    pad = [np.pad(s, ((0, h - s.shape[0]), (0, w - s.shape[1]), (0, 0)), constant_values=255) for s in segments]
    return np.stack(pad)


if __name__ == "__main__":
    main()
