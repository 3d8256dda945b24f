"""The PushT world's reference numbers (docs/pusht.md): what a learned model of PushT will be held
against. On protocol tasks (start and goal 25 steps apart in held-out expert episodes, 50-step
budget, success within 20 px and 20 degrees; the planning_benchmark seed range): the lattice
CEM of docs/planning.md (33 rollouts per re-plan, horizon 16, one chunk executed per re-plan)
and the lattice planner (16 x 2 = 32 rollouts per re-plan) on the *exact* model, the scripted expert (on
frames), random actions; the policy zoo's real success, run chunk by chunk. On gym-pusht's full task
(coverage > 0.95 within 300 steps): the expert and random, success and best coverage.

    python benchmarks/pusht_world.py --episodes 50          # JSON in benchmarks/results/pusht_world.json
    python benchmarks/pusht_world.py --only lattice_exact   # one protocol row, merged into that JSON
    python benchmarks/pusht_world.py --only zoo             # the policy zoo's rates
    python benchmarks/pusht_world.py --only cem_model --engine runs/pusht64/checkpoint
                                          # the same planner on a learned model, executed in gym-pusht
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import dreamgym  # noqa: F401 - registers the env ids
from dreamgym.pusht import PUSHT, ExpertPolicy, PoseScorer, PushTModel
from dreamgym.pusht.tasks import BUDGET, full_task, protocol_task
from planners import MPC, Lattice, lattice_cem

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "pusht_world.json"


def protocol(kind: str, episodes: int, engine: str = "pusht-64") -> dict:
    """One protocol row: ``kind`` is random, expert, or a planner (cem, lattice) on the exact
    model (``*_exact``) or on the learned ``engine`` (``*_model``), executed in gym-pusht."""
    env = gym.make("dreamgym/PushT-v0", max_episode_steps=BUDGET)
    planned = kind.endswith(("_exact", "_model"))
    if kind.endswith("_model"):
        from engine import Engine

        model = Engine.load(engine)
    else:
        model = PushTModel() if planned else None
    wins, replan = [], []
    t0 = time.perf_counter()
    for i in range(episodes):
        start, goal = protocol_task(i, "planning_benchmark")
        obs, info = env.reset(options={"start_state": start, "goal_state": goal})
        if planned:
            scorer = PoseScorer(info["goal_image"])
            if kind.startswith("cem"):
                planner = lattice_cem(model, scorer, horizon=16, seed=0)
            else:  # the lattice planner of docs/planning.md's 32-rollout budget: 16 x 2
                planner = Lattice(model, scorer, horizon=16, population=16, iterations=2, deltas=(1.0,), seed=0)
            trace = MPC(planner).run(env, max_steps=BUDGET, obs=obs)
            wins.append(trace.success)
            replan.extend(trace.plan_wall_s)
            continue
        policy, rng = ExpertPolicy(seed=i), np.random.default_rng(i)
        terminated = False
        for _ in range(BUDGET):
            if kind == "expert":
                a = policy({"observation": obs, "desired_goal": info["goal_image"]})
            else:
                a = rng.uniform(-1, 1, 2).astype(np.float32)
            obs, _, terminated, truncated, info = env.step(a)
            if terminated or truncated:
                break
        wins.append(bool(terminated))
    from dreamgym.evaluation import wilson_interval

    lo, hi = wilson_interval(int(np.sum(wins)), episodes)
    out = {"episodes": episodes, "success": float(np.mean(wins)), "ci95": [round(lo, 3), round(hi, 3)]}
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    if kind.endswith("_model"):
        out["engine"] = engine
    if replan:
        out["replan_s_mean"] = round(float(np.mean(replan)), 3)
    return out


def zoo(episodes: int) -> dict:
    """Each zoo policy's real success on the protocol tasks, run chunk by chunk (8 actions per
    call, what the policy evaluator does: 6 whole chunks, 48 of the 50 steps), with a Wilson
    95% interval."""
    from dreamgym.evaluation import wilson_interval
    from dreamgym.wrappers import ChunkedEnv

    env = ChunkedEnv(PUSHT.make_env("pose"), 8)
    out = {}
    for name, policy in PUSHT.policy_zoo(chunk_size=8, seed=0).items():
        wins = 0
        for i in range(episodes):
            obs, info = env.reset(options=PUSHT.reset_options(*protocol_task(i, "planning_benchmark"), "pose"))
            policy.reset(seed=i)
            for _ in range(BUDGET // 8):  # whole chunks within the 50-step budget: 6 chunks, 48 steps
                obs, _, terminated, _, info = env.step(policy({"observation": obs, "desired_goal": info["goal_image"]}))
                if terminated:
                    break
            wins += bool(info["is_success"])
        lo, hi = wilson_interval(wins, episodes)
        out[name] = {"success": wins / episodes, "ci95": [round(lo, 3), round(hi, 3)]}
        print("zoo", name, out[name], flush=True)
    return {"episodes": episodes, "policies": out}


def full(kind: str, episodes: int) -> dict:
    env = gym.make("dreamgym/PushT-v0", task="coverage", max_episode_steps=300)
    wins, best = [], []
    for i in range(episodes):
        obs, info = env.reset(options={"start_state": full_task(i, "planning_benchmark")})
        policy, rng = ExpertPolicy(seed=i, finish=(1.0, 1.0)), np.random.default_rng(i)
        cov, terminated = info["coverage"], False
        for _ in range(300):
            if kind == "expert":
                a = policy({"observation": obs, "desired_goal": info["goal_image"]})
            else:
                a = rng.uniform(-1, 1, 2).astype(np.float32)
            obs, _, terminated, truncated, info = env.step(a)
            cov = max(cov, info["coverage"])
            if terminated or truncated:
                break
        wins.append(bool(terminated))
        best.append(cov)
    return {"episodes": episodes, "success": float(np.mean(wins)), "best_coverage_mean": round(float(np.mean(best)), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument(
        "--only",
        choices=["random", "expert", "cem_exact", "lattice_exact", "cem_model", "lattice_model", "zoo"],
        default=None,
    )
    ap.add_argument("--engine", default="pusht-64", help="the learned model of the *_model rows")
    args = ap.parse_args()
    results: dict = json.loads(OUT.read_text()) if OUT.exists() else {"protocol": {}, "full_task": {}}
    if args.only == "zoo" or args.only is None:
        results["zoo"] = zoo(args.episodes)
        OUT.write_text(json.dumps(results, indent=2) + "\n")
        if args.only == "zoo":
            return
    if args.only is not None:  # one protocol row, merged into the existing results
        results["protocol"][args.only] = protocol(args.only, args.episodes, args.engine)
        print("protocol", args.only, results["protocol"][args.only], flush=True)
        OUT.write_text(json.dumps(results, indent=2) + "\n")
        return
    for kind in ("random", "expert", "cem_exact", "lattice_exact"):
        results["protocol"][kind] = protocol(kind, args.episodes)
        print("protocol", kind, results["protocol"][kind], flush=True)
        OUT.write_text(json.dumps(results, indent=2) + "\n")
    for kind in ("random", "expert"):
        results["full_task"][kind] = full(kind, args.episodes)
        print("full task", kind, results["full_task"][kind], flush=True)
        OUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
