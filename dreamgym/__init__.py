"""dreamgym: world models as Gymnasium environments, and the worlds they are judged against
(the toy push world and PushT, behind one world protocol: :mod:`dreamgym.worlds`).

Importing the package registers ``dreamgym/Dream-v0`` (a world model; ``gym.make_vec`` uses
the batched :class:`DreamVectorEnv`), ``dreamgym/Push-v0`` (the exact toy world) and
``dreamgym/PushT-v0`` (PushT over gym-pusht, the ``pusht`` extra).
"""

from gymnasium.envs.registration import register, registry

from . import toyworld
from .dream_env import DreamEnv
from .start_frames import load_start_frames
from .toyworld import PushEnv, ToyWorldModel
from .vector_env import DreamVectorEnv
from .worlds import World, get_world
from .wrappers import ChunkedEnv, GoalObservation, PerStepAdapter, PerStepVectorAdapter, RecordMP4, RobotClock

if "dreamgym/Dream-v0" not in registry:
    register(
        id="dreamgym/Dream-v0",
        entry_point="dreamgym.dream_env:DreamEnv",
        vector_entry_point="dreamgym.vector_env:DreamVectorEnv",
        max_episode_steps=16,
    )
if "dreamgym/Push-v0" not in registry:
    register(id="dreamgym/Push-v0", entry_point="dreamgym.toyworld.env:PushEnv", max_episode_steps=100)
if "dreamgym/PushT-v0" not in registry:  # gym-pusht (the 'pusht' extra) is imported at make time
    register(id="dreamgym/PushT-v0", entry_point="dreamgym.pusht.env:PushTEnv", max_episode_steps=300)

__all__ = [
    "ChunkedEnv",
    "DreamEnv",
    "DreamVectorEnv",
    "GoalObservation",
    "PerStepAdapter",
    "PerStepVectorAdapter",
    "PushEnv",
    "RecordMP4",
    "RobotClock",
    "ToyWorldModel",
    "World",
    "get_world",
    "load_start_frames",
    "toyworld",
]
