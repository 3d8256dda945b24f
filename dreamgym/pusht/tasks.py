"""PushT episodes for datasets and tasks in the field's protocol.

* :func:`rollout_episode` — one episode of a behaviour from a seeded start: the scripted
  expert (with action noise), or a weak exploration policy that takes random steps kept within
  100 px of the block (stable-worldmodel's "WeakPolicy"), or random actions.
* :func:`protocol_task` — the DINO-WM / stable-worldmodel Push-T protocol: start and goal from
  a held-out expert episode, the goal the state :data:`GOAL_OFFSET` = 25 steps after the
  start, a budget of :data:`BUDGET` = 50 steps, success within 20 px (pusher and block together)
  and 20 degrees (:func:`~.env.pose_success`). Starts whose goal is already within tolerance
  are skipped (in expert data about 39% of 25-step segments are, REFERENCE.md), so every task
  needs the T to move.
* :func:`full_task` — gym-pusht's own task from a seeded start: coverage > 0.95 within 300 steps.

Seeds come from the one registry (:mod:`dreamgym.seeds`): a purpose's range, so
training data, held-out data, benchmarks and tests never share an episode.
"""

from __future__ import annotations

import numpy as np

from dreamgym import seeds

from .env import pose_success
from .expert import ExpertState, expert_target, relative_action
from .sim import GOAL_POSE, PushTSim, random_start

GOAL_OFFSET = 25  # steps between a protocol task's start and its goal (5 planning steps x frameskip 5)
BUDGET = 50  # steps a planner gets to reach it
BEHAVIOURS = ("expert", "weak", "random")


def rollout_episode(
    seed, length: int, behaviour: str = "expert", noise: float = 0.0, sim: PushTSim | None = None, frames=True
) -> dict:
    """One episode of ``length`` steps from the start drawn with ``seed`` (an int, or a tuple of
    ints for ``np.random.default_rng``).

    Returns ``states`` (length + 1, 5) float64, ``actions`` (length, 2) float32 and, with
    ``frames``, ``frames`` (length + 1, 64, 64, 3) uint8. The expert pushes towards gym-pusht's
    goal zone; ``noise`` is Gaussian action noise (action units).
    """
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"behaviour must be one of {BEHAVIOURS}, got {behaviour!r}")
    rng = np.random.default_rng(seed)
    sim = sim or PushTSim()
    start = random_start(rng)
    goal = np.array([start[0], start[1], *GOAL_POSE])
    sim.reset_to(start)
    states = np.empty((length + 1, 5))
    actions = np.empty((length, 2), np.float32)
    out_frames = np.empty((length + 1, sim.size, sim.size, 3), np.uint8) if frames else None
    states[0] = sim.state()
    if frames:
        out_frames[0] = sim.frame()
    memory = ExpertState()
    for t in range(length):
        s = states[t]
        if behaviour == "expert":
            a = relative_action(s[:2], expert_target(s, goal, memory, finish=(1.0, 1.0)))
        elif behaviour == "weak":  # random steps kept within 100 px of the block
            target = s[2:4] + rng.uniform(-100, 100, 2)
            a = relative_action(s[:2], target)
        else:
            a = rng.uniform(-1, 1, 2).astype(np.float32)
        if noise:
            a = np.clip(a + rng.normal(0.0, noise, 2), -1, 1)
        actions[t] = a
        sim.step(actions[t])
        states[t + 1] = sim.state()
        if frames:
            out_frames[t + 1] = sim.frame()
    out = {"states": states, "actions": actions}
    if frames:
        out["frames"] = out_frames
    return out


def protocol_task(
    index: int, purpose: str = "evaluation", sim: PushTSim | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(start state (5,), goal state (5,)) of protocol task ``index`` of ``purpose``'s seed range:
    a state of a held-out expert episode and the state :data:`GOAL_OFFSET` steps later, the
    first such pair (from a seeded offset) whose start is not already within tolerance."""
    if purpose == "training":
        raise ValueError("protocol tasks are held out: purpose must be a range other than 'training', got 'training'")
    seed = seeds.seed(purpose, index)
    for attempt in range(100):  # an episode whose T never moves (the expert stuck) is passed over
        states = rollout_episode((seed, attempt), 150, "expert", sim=sim, frames=False)["states"]
        starts = [t for t in range(150 - GOAL_OFFSET) if not pose_success(states[t], states[t + GOAL_OFFSET])]
        if starts:
            t0 = starts[int(np.random.default_rng((seed, attempt)).integers(len(starts)))]
            return states[t0].copy(), states[t0 + GOAL_OFFSET].copy()
    raise RuntimeError(f"protocol task {index} ({purpose}): no expert episode moved the T")  # pragma: no cover


def full_task(index: int, purpose: str = "evaluation") -> np.ndarray:
    """The start state (5,) of gym-pusht's full task ``index`` in ``purpose``'s seed range."""
    return random_start(np.random.default_rng(seeds.seed(purpose, index)))


__all__ = ["BEHAVIOURS", "BUDGET", "GOAL_OFFSET", "full_task", "protocol_task", "random_start", "rollout_episode"]
