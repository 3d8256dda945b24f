"""The toy world: an exact 2-D push world that plays "the real robot" for the world model.

* :mod:`.physics` — the simulator (state ``(N, 4)`` ``[pusher_x, pusher_y, block_x, block_y]``).
* :mod:`.rendering` — 64x64 frames of states, and the colour locator that reads states back.
* :mod:`.env` — ``dreamgym/Push-v0`` (:class:`PushEnv`), one action per step.
* :mod:`.model` — :class:`ToyWorldModel`, the exact RolloutModel with push-64's conventions.
* :mod:`.episodes` — the dataset writer (``python -m dreamgym.toyworld.episodes``).
* :mod:`.tasks` — seeded reach and push tasks (start state, goal state) and their planning scorers.
* :mod:`.scorer` — :class:`KeypointScorer`, a frame-only planning scorer for the tasks.
* :mod:`.zoo` — a zoo of frame-based push policies of graded quality and the frame-only
  success judge, for sim-to-real policy evaluation.
* :mod:`.world` — :data:`TOY`, the toy world behind the world protocol (:mod:`dreamgym.worlds`).

The simulator's and renderer's main names are re-exported here, so ``from dreamgym import
toyworld as tw; tw.render(tw.simulate(...))`` reads as one module (colours, speed and the
coverage maps stay in :mod:`.rendering` and :mod:`.physics`).
"""

from .env import SUCCESS_PX, TASKS, PushEnv, task_distance
from .model import ToyWorldModel
from .physics import ACTION_DIM, BLOCK_HALF, PUSHER_RADIUS, SIZE, random_states, simulate, step_state
from .rendering import locate, render
from .scorer import KeypointScorer
from .tasks import MAX_STEPS, TASK_IDS, sample_task, task_episode, task_scorer
from .world import TOY, ToyWorld

# The dataset writer is imported on first use, so that ``python -m dreamgym.toyworld.episodes``
# runs it as a script without a second copy of the module.
_EPISODES = ("generate_episode", "generate_episodes", "write_episodes")


def __getattr__(name: str):
    if name in _EPISODES:
        from . import episodes

        return getattr(episodes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACTION_DIM",
    "BLOCK_HALF",
    "MAX_STEPS",
    "PUSHER_RADIUS",
    "SIZE",
    "SUCCESS_PX",
    "TASKS",
    "TASK_IDS",
    "TOY",
    "KeypointScorer",
    "PushEnv",
    "ToyWorld",
    "ToyWorldModel",
    "generate_episode",
    "generate_episodes",
    "locate",
    "random_states",
    "render",
    "sample_task",
    "simulate",
    "step_state",
    "task_distance",
    "task_episode",
    "task_scorer",
    "write_episodes",
]
