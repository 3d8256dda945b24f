"""Policy users on push-64: SB3 throughput through our VecEnv adapter, and per-step closed-loop
control in the dream env against the exact toy world.

1. Stable-Baselines3 PPO env steps/s with ``SB3VecEnv`` (one batched engine call per step for
   all N envs) against SB3's own ``DummyVecEnv`` over N single ``Dream-v0`` envs (N calls per
   step), at N = 4 and 8, alternating, the same PPO settings (MlpPolicy, n_steps = 8, one
   epoch), so the env dominates.
2. A per-step go-to-goal controller (LeRobot's convention: one action per step from the
   frame it sees) on reach episodes: success in ``Push-v0`` (the exact toy world), and in
   ``Dream-v0`` through ``PerStepAdapter`` closed loop (each step sees the frame its action
   produced) and open loop (frames lag one chunk). Same starts and goals.

Writes benchmarks/results/policy_bench.json and the "policy" section of docs/benchmarks.md.

    python benchmarks/policy_bench.py            # about 15 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from _docs import replace_section

import dreamgym  # noqa: F401
from dreamgym import PerStepAdapter, seeds
from dreamgym import toyworld as tw
from dreamgym.toyworld import task_episode

ROOT = Path(__file__).resolve().parents[1]

OUT = ROOT / "benchmarks" / "results" / "policy_bench.json"
EVAL_SEED = seeds.base("policy_benchmark")
SUCCESS_PX = 3.0


def sb3_steps_per_s(n: int, adapter: bool, timesteps: int) -> float:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from dreamgym.sb3 import make_sb3_vec_env

    if adapter:
        venv = make_sb3_vec_env(num_envs=n, engine="push-64", max_episode_steps=4)
    else:
        venv = make_vec_env("dreamgym/Dream-v0", n_envs=n, env_kwargs={"engine": "push-64", "max_episode_steps": 4})
    model = PPO("MlpPolicy", venv, n_steps=8, batch_size=8 * n, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=8 * n)  # warm-up rollout
    t0 = time.perf_counter()
    model.learn(total_timesteps=timesteps, reset_num_timesteps=False)
    wall = time.perf_counter() - t0
    venv.close()
    return timesteps / wall


class GoToGoal:
    """Per-step controller (LeRobot convention): action = clip(gain * (goal - pusher)), the
    pusher found in the frame by colour."""

    def __init__(self, goal, gain: float = 0.35) -> None:
        self.goal, self.gain = np.asarray(goal, float), gain

    def select_action(self, frame: np.ndarray) -> np.ndarray:
        p = tw.locate(frame)[:2]
        if not np.isfinite(p).all():
            return np.zeros(2, np.float32)
        return np.clip(self.gain * (self.goal - p), -1, 1).astype(np.float32)


def reached(frame, goal) -> bool:
    p = tw.locate(frame)[:2]
    return bool(np.isfinite(p).all() and np.linalg.norm(p - goal) <= SUCCESS_PX)


def episode(env, policy, goal, options, steps: int) -> bool:
    obs, _ = env.reset(seed=0, options=options)
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(policy.select_action(obs))
        if reached(obs, goal):
            return True
        if terminated or truncated:
            return False
    return False


def closed_loop_success(episodes: int, steps: int) -> dict:
    push = gym.make("dreamgym/Push-v0", task="reach", max_episode_steps=10_000)
    dream = gym.make("dreamgym/Dream-v0", engine="push-64", max_episode_steps=10_000)
    closed = PerStepAdapter(dream, mode="closed_loop", max_episode_steps=steps)
    opened = PerStepAdapter(gym.make("dreamgym/Dream-v0", engine="push-64"), mode="open_loop", max_episode_steps=steps)
    wins = {"push_v0": 0, "dream_closed_loop": 0, "dream_open_loop": 0}
    for ep in range(episodes):
        start, goal = task_episode("reach", ep, EVAL_SEED)
        frame = tw.render(start)[0]
        policy = GoToGoal(goal[:2])
        wins["push_v0"] += episode(push, policy, goal[:2], {"state": start, "goal": goal}, steps)
        wins["dream_closed_loop"] += episode(closed, policy, goal[:2], {"start_frame": frame}, steps)
        wins["dream_open_loop"] += episode(opened, policy, goal[:2], {"start_frame": frame}, steps)
        print(ep, wins, flush=True)
    return {k: round(v / episodes, 3) for k, v in wins.items()} | {"episodes": episodes, "steps": steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--steps", type=int, default=40, help="per-step actions per episode (5 chunks)")
    ap.add_argument("--timesteps", type=int, default=128, help="PPO env steps timed per setting")
    args = ap.parse_args()
    res: dict = {"sb3": {}}
    for n in (4, 8):
        ours, theirs = [], []
        for _ in range(2):  # alternating
            ours.append(sb3_steps_per_s(n, True, args.timesteps))
            theirs.append(sb3_steps_per_s(n, False, args.timesteps))
        res["sb3"][n] = {
            "adapter_steps_per_s": round(statistics.median(ours), 2),
            "dummy_vec_env_steps_per_s": round(statistics.median(theirs), 2),
            "ratio": round(statistics.median(ours) / statistics.median(theirs), 2),
        }
        print(n, res["sb3"][n], flush=True)
    res["closed_loop"] = closed_loop_success(args.episodes, args.steps)
    OUT.write_text(json.dumps(res, indent=2) + "\n")
    replace_section("policy", table(res))


def table(res: dict) -> str:
    sb3 = {str(k): v for k, v in res["sb3"].items()}
    c = res["closed_loop"]
    lines = [
        "## Policy users (push-64, CPU)",
        "",
        "`benchmarks/policy_bench.py`, one run. Stable-Baselines3 PPO (MlpPolicy, n_steps 8, one epoch), env steps/s, "
        "our `SB3VecEnv` (one batched engine call per step) against SB3's `DummyVecEnv` of single `Dream-v0` envs, "
        "alternating:",
        "",
        "| envs | `SB3VecEnv` steps/s | `DummyVecEnv` steps/s | ratio |",
        "|---:|---:|---:|---:|",
    ]
    for n in ("4", "8"):
        r = sb3[n]
        lines.append(
            f"| {n} | {r['adapter_steps_per_s']:.2f} | {r['dummy_vec_env_steps_per_s']:.2f} | {r['ratio']:.2f}x |"
        )
    lines += [
        "",
        f"A per-step go-to-goal controller (one action per step from the frame it sees), {c['episodes']} reach "
        f"episodes of {c['steps']} steps, same starts and goals: success {c['push_v0']:.2f} in `Push-v0` (the exact "
        f'world), **{c["dream_closed_loop"]:.2f}** in `Dream-v0` through `PerStepAdapter(mode="closed_loop")` '
        f"(8 model calls per chunk), {c['dream_open_loop']:.2f} open loop (frames one chunk late).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
