"""N dream environments stepped by one batched forward per step.

python examples/vector_env_loop.py --num-envs 8 --steps 6
"""

import argparse
import time

import gymnasium as gym
import numpy as np

import dreamgym  # noqa: E402,F401


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--num-envs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--engine", default="push-64")
    args = ap.parse_args(argv)
    venv = gym.make_vec("dreamgym/Dream-v0", num_envs=args.num_envs, engine=args.engine, max_episode_steps=4)
    print(type(venv.unwrapped).__name__, "autoreset:", venv.metadata["autoreset_mode"])
    obs, info = venv.reset(seed=0)
    venv.action_space.seed(0)
    t0 = time.perf_counter()
    for t in range(args.steps):
        obs, rewards, terminated, truncated, info = venv.step(venv.action_space.sample())
        finished = np.flatnonzero(terminated | truncated)
        # rows being auto-reset on this step (NEXT_STEP mode) predicted nothing: "_frames" masks them
        predicted = np.flatnonzero(info.get("_frames", np.zeros(len(obs), bool)))
        print(f"step {t}: obs {obs.shape}, rows predicted {predicted.tolist()}, finished {finished.tolist()}")
    dt = time.perf_counter() - t0
    print(
        f"{args.steps * args.num_envs} env steps ({args.steps * args.num_envs * venv.unwrapped.spec_model.chunk_size} "
        f"frames) in {dt:.2f} s"
    )


if __name__ == "__main__":
    main()
