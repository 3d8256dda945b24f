"""Episodes of the toy world for training and evaluation, written as ``.npz`` files.

Two behaviours are mixed so that contact is common: smooth random motion (an
Ornstein-Uhlenbeck process on the velocity) and scripted pushes (go behind the block,
then push it in a random direction, with noise). Every episode is a pure function of its
seed: ``episode_seed(base, i)``, with ``base`` a purpose's base in :mod:`.seeds`.

File layout (``np.load``): ``frames`` (N, T+1, 64, 64, 3) uint8, ``actions`` (N, T, 2)
float32, ``states`` (N, T+1, 4) float64, ``seeds`` (N,) int64.

Command line::

    python -m dreamgym.toyworld.episodes --out data/push_train.npz --episodes 1000 --seed 0
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from engine.files import atomic_write_npz

from .. import seeds
from . import physics as tw
from . import rendering

TRAIN_SEED = seeds.base("training")
HELDOUT_SEED = seeds.base("heldout")  # held-out evaluation seeds start here; training never uses them


def _scripted_actions(rng: np.random.Generator, state: np.ndarray, length: int) -> np.ndarray:
    """Go behind the block relative to a random push direction, then push; closed loop."""
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction)
    gain = rng.uniform(0.3, 0.8)
    noise = rng.uniform(0.0, 0.4)
    s = state[None].copy()
    actions = np.zeros((length, 2))
    phase_push = False
    for t in range(length):
        p, b = s[0, :2], s[0, 2:]
        behind = b - direction * (tw.BLOCK_HALF + tw.PUSHER_RADIUS + 1.5)
        if not phase_push and np.linalg.norm(behind - p) < 1.5:
            phase_push = True
        target = b + direction * 20 if phase_push else behind
        a = np.clip(gain * (target - p), -1, 1) + noise * rng.normal(size=2)
        actions[t] = np.clip(a, -1, 1)
        s = tw.step_state(s, actions[t][None])
    return actions


def _random_actions(rng: np.random.Generator, length: int) -> np.ndarray:
    theta = rng.uniform(0.05, 0.5)
    sigma = rng.uniform(0.2, 0.8)
    a = rng.uniform(-1, 1, 2)
    out = np.zeros((length, 2))
    for t in range(length):
        a = a - theta * a + sigma * rng.normal(size=2)
        out[t] = np.clip(a, -1, 1)
    return out


def episode_seed(base: int, index: int) -> int:
    """Seed of episode ``index`` of the series starting at ``base`` (within one seed range)."""
    if not 0 <= int(index) < seeds.SPAN:
        raise ValueError(f"episode index must lie in [0, {seeds.SPAN}), got {index}")
    return int(base) + int(index)


def generate_episode(seed: int, length: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One episode: frames (T+1, 64, 64, 3) uint8, actions (T, 2) float32, states (T+1, 4)."""
    rng = np.random.default_rng(seed)
    s0 = tw.random_states(rng, 1)[0]
    if rng.random() < 0.6:
        actions = _scripted_actions(rng, s0, length)
    else:
        actions = _random_actions(rng, length)
    actions = actions.astype(np.float32)
    states = np.concatenate([s0[None], tw.simulate(s0[None], actions[None].astype(np.float64))[0]])
    return rendering.render(states), actions, states


def generate_episodes(n: int, *, seed: int = TRAIN_SEED, length: int = 32) -> dict[str, np.ndarray]:
    frames, actions, states = zip(*(generate_episode(episode_seed(seed, i), length) for i in range(n)), strict=True)
    return {
        "frames": np.stack(frames),
        "actions": np.stack(actions),
        "states": np.stack(states),
        "seeds": np.array([episode_seed(seed, i) for i in range(n)], dtype=np.int64),
    }


def write_episodes(path: str | os.PathLike, n: int, *, seed: int = TRAIN_SEED, length: int = 32) -> Path:
    """Generate ``n`` episodes and write them atomically to ``path`` (.npz)."""
    return atomic_write_npz(path, generate_episodes(n, seed=seed, length=length))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="write toy-world episodes to an .npz file")
    ap.add_argument("--out", required=True)
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--length", type=int, default=32)
    ap.add_argument("--seed", type=int, default=TRAIN_SEED)
    args = ap.parse_args(argv)
    path = write_episodes(args.out, args.episodes, seed=args.seed, length=args.length)
    print(f"wrote {args.episodes} episodes to {path}")


if __name__ == "__main__":
    main()
