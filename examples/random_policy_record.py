"""A random policy in the dream env, every predicted frame recorded to mp4.

python examples/random_policy_record.py --out out/random --episodes 2
"""

import argparse

import gymnasium as gym

import dreamgym  # noqa: E402,F401  (registers dreamgym/Dream-v0)
from dreamgym import RecordMP4


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="out/random")
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--engine", default="push-64")
    args = ap.parse_args(argv)
    env = RecordMP4(gym.make("dreamgym/Dream-v0", engine=args.engine, max_episode_steps=4), args.out)
    env.action_space.seed(0)
    for ep in range(args.episodes):
        obs, info = env.reset(seed=ep)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            done = terminated or truncated
    env.close()
    for p in env.paths:
        print("wrote", p)


if __name__ == "__main__":
    main()
