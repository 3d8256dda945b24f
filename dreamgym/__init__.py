"""dreamgym: world models as Gymnasium environments, and the toy push world.

Importing the package registers ``dreamgym/Push-v0`` (the exact toy world).
"""

from gymnasium.envs.registration import register, registry

from . import toyworld
from .push_env import PushEnv
from .toy_model import ToyWorldModel

if "dreamgym/Push-v0" not in registry:
    register(id="dreamgym/Push-v0", entry_point="dreamgym.push_env:PushEnv", max_episode_steps=100)

__all__ = ["PushEnv", "ToyWorldModel", "toyworld"]
