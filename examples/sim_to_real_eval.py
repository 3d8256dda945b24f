"""One policy, two worlds: evaluate it in the dream env (the world model) and in the exact
toy world ("the real robot"), from the same start frames, and print success side by side.

The policy is a chunk policy (frame -> (chunk_size, 2) actions): it finds the pusher in the
frame by colour and heads for the goal position. Both envs take the same chunks (the toy
world through ``ChunkedEnv``) and success is judged the same way, from frames.

    python examples/sim_to_real_eval.py --episodes 20
"""

import argparse
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dreamgym import ChunkedEnv  # noqa: E402
from dreamgym import toyworld as tw  # noqa: E402
from dreamgym.toyworld import seeds, task_episode  # noqa: E402

EVAL_SEED = seeds.base("evaluation")


class GoToPolicy:
    """Head for ``goal`` (x, y) at a fixed gain, from the pusher position seen in the frame."""

    def __init__(self, goal, chunk_size: int = 8, gain: float = 0.35):
        self.goal, self.chunk_size, self.gain = np.asarray(goal, float), chunk_size, gain

    def __call__(self, frame):
        p = tw.locate(frame)[:2]
        if not np.isfinite(p).all():
            return np.zeros((self.chunk_size, 2), np.float32)
        acts, pos = [], p.copy()
        for _ in range(self.chunk_size):  # open loop inside the chunk, assuming 2 px per unit action
            a = np.clip(self.gain * (self.goal - pos), -1, 1)
            acts.append(a)
            pos = pos + tw.SPEED * a
        return np.asarray(acts, np.float32)


def reached(frames, goal, tol=3.0):
    p = tw.locate(frames[-1])[:2]
    return bool(np.isfinite(p).all() and np.linalg.norm(p - goal) <= tol)


def run(env, policy, goal, start_options, chunks=5):
    obs, _ = env.reset(seed=0, options=start_options)
    for _ in range(chunks):
        obs, _, terminated, truncated, info = env.step(policy(obs))
        if reached(info["frames"], goal):
            return True
    return False


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--engine", default="push-64")
    args = ap.parse_args(argv)
    dream = gym.make("dreamgym/Dream-v0", engine=args.engine)
    real = ChunkedEnv(gym.make("dreamgym/Push-v0", task="reach", max_episode_steps=10_000), chunk_size=8)
    wins = {"dream": 0, "real": 0}
    for ep in range(args.episodes):
        start, goal = task_episode("reach", ep, EVAL_SEED)
        policy = GoToPolicy(goal[:2])
        frame = tw.render(start)[0]
        wins["dream"] += run(dream, policy, goal[:2], {"start_frame": frame})
        wins["real"] += run(real, policy, goal[:2], {"state": start, "goal": goal})
    n = args.episodes
    print(f"{'':12s}{'dream env':>12s}{'toy world':>12s}")
    print(f"{'success':12s}{wins['dream'] / n:>12.2f}{wins['real'] / n:>12.2f}   ({n} episodes, same starts)")
    return {name: w / n for name, w in wins.items()}


if __name__ == "__main__":
    main()
