"""Seeded reach and push tasks in the toy world (start state, goal state). Used by the MPC
demo, the planning benchmarks and policy evaluation; episode series are indexed within a
purpose's seed range (:mod:`dreamgym.seeds`).

* reach: the pusher must end within 3 px of a goal position at least 12 px away.
* push: the block must end within 4 px of a goal 8-16 px away, reachable by pushing (the
  contact points behind the block at the start and at the goal lie on the table).
The goal image renders the goal state; for push the pusher sits behind the block at its goal.
:func:`task_scorer` is the planning scorer each task is benchmarked with.
"""

from __future__ import annotations

import numpy as np

from engine.scoring import GoalDistance

from . import physics as tw
from .scorer import KeypointScorer

TASK_IDS = {"reach": 0, "push": 1}
MAX_STEPS = {"reach": 48, "push": 80}


def _inside(x: np.ndarray, margin: float) -> bool:
    return bool((x > margin).all() and (x < tw.SIZE - margin).all())


def sample_task(task: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(start state (4,), goal state (4,)) drawn from ``rng``."""
    if task not in TASK_IDS:
        raise ValueError(f"task must be one of {sorted(TASK_IDS)}, got {task!r}")
    contact = tw.BLOCK_HALF + tw.PUSHER_RADIUS + 1
    while True:
        s0 = tw.random_states(rng, 1)[0]
        if task == "reach":
            goal = s0.copy()
            goal[:2] = rng.uniform(8, 56, 2)
            gap = np.linalg.norm(np.clip(np.abs(goal[:2] - s0[2:]) - tw.BLOCK_HALF, 0, None))
            if np.linalg.norm(goal[:2] - s0[:2]) >= 12 and gap > tw.PUSHER_RADIUS + 1:
                return s0, goal
        else:
            d = rng.normal(size=2)
            d /= np.linalg.norm(d)
            gb = s0[2:] + d * rng.uniform(8, 16)
            if _inside(gb, 10) and _inside(gb - d * contact, 5) and _inside(s0[2:] - d * contact, 5):
                return s0, np.concatenate([gb - d * contact, gb])


def task_episode(task: str, index: int, base_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Episode ``index`` of a fixed series: a pure function of (task, index, base_seed).

    ``base_seed`` is a purpose's base, ``seeds.base("demo")`` for example.
    """
    if task not in TASK_IDS:
        raise ValueError(f"task must be one of {sorted(TASK_IDS)}, got {task!r}")
    return sample_task(task, np.random.default_rng([base_seed, TASK_IDS[task], index]))


def task_scorer(task: str, goal_image):
    """The planning scorer of ``task`` (what the MPC demo and the planning benchmarks use):
    blurred pixel distance to the goal image for reach, keypoints located in the frames for push."""
    if task == "reach":
        return GoalDistance(goal_image, blur_sigma=6.0, weighting="linear")
    if task == "push":
        return KeypointScorer(goal_image, "push", approach=0.5, weighting="last")
    raise ValueError(f"task must be 'push' or 'reach', got {task!r}")
