"""Stable-Baselines3 on the batched dream env: ``SB3VecEnv`` adapts a ``DreamVectorEnv`` to
SB3's ``VecEnv`` (one batched engine call per step for all N envs).

SB3 cannot take a Gymnasium vector env ("The environment is of type DreamVectorEnv, not a
Gymnasium environment"); its own ``make_vec_env`` runs N single envs, one model call each.

    from stable_baselines3 import PPO
    from dreamgym.sb3 import make_sb3_vec_env

    venv = make_sb3_vec_env(num_envs=8, engine="push-64", max_episode_steps=16)
    PPO("CnnPolicy", venv, n_steps=64).learn(10_000)

Conventions (SB3's): ``reset() -> obs``; ``step`` returns ``(obs, rewards, dones, infos)``
with ``dones = terminated | truncated``; a finished env is reset in the same step (the vector
env's SAME_STEP autoreset) and its last observation is ``infos[i]["terminal_observation"]``,
with ``infos[i]["TimeLimit.truncated"]`` when the time limit (not success) ended it. SB3 is
an optional dependency, imported when this module is.
"""

from __future__ import annotations

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from .vector_env import DreamVectorEnv


class SB3VecEnv(VecEnv):
    """A :class:`DreamVectorEnv` (SAME_STEP autoreset) as a Stable-Baselines3 ``VecEnv``."""

    def __init__(self, venv: DreamVectorEnv) -> None:
        if not isinstance(venv, DreamVectorEnv):
            raise TypeError(f"venv must be a DreamVectorEnv, got {type(venv).__name__}")
        if venv.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"SB3 resets finished envs within the step: make the DreamVectorEnv with "
                f"autoreset_mode=SAME_STEP, got {venv.autoreset_mode}"
            )
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None

    # --- SB3 VecEnv API -----------------------------------------------------------------------
    def reset(self) -> np.ndarray:
        """Reset every env (with the seeds of :meth:`seed`, if set since the last reset).
        Per-env ``set_options`` are not supported: reset options go to the DreamVectorEnv."""
        if any(self._options):
            raise NotImplementedError("per-env reset options: call venv.reset(options=...) on the DreamVectorEnv")
        seeds = self._seeds if any(s is not None for s in self._seeds) else None
        obs, infos = self.venv.reset(seed=seeds)
        self.reset_infos = [self._row_info(infos, i) for i in range(self.num_envs)]
        self._reset_seeds()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        a = np.asarray(actions, dtype=np.float32)
        want = (self.num_envs, *self.action_space.shape)
        if a.shape != want:  # SB3's policies give exactly this; anything else is not reshaped on a guess
            raise ValueError(f"actions must have shape (num_envs, *action_space.shape) = {want}, got {a.shape}")
        self._actions = a

    def step_wait(self):
        if self._actions is None:
            raise RuntimeError("step_async() must come before step_wait()")
        obs, rewards, terminated, truncated, infos = self.venv.step(self._actions)
        self._actions = None
        dones = terminated | truncated
        out = []
        for i in range(self.num_envs):
            info = self._row_info(infos, i)
            if dones[i]:
                info = {**info.pop("final_info", {}), "terminal_observation": info.pop("final_obs")}
                info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            out.append(info)
        return obs, rewards.astype(np.float32), dones, out

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices=None) -> list:
        idx = self._get_indices(indices)
        try:
            values = self.venv.get_attr(attr_name)
            return [values[i] for i in idx]
        except AttributeError:
            return [getattr(self.venv, attr_name)] * len(list(idx))

    def set_attr(self, attr_name: str, value, indices=None) -> None:
        idx = list(self._get_indices(indices))
        values = list(self.venv.get_attr(attr_name)) if hasattr(self.venv, "get_attr") else [None] * self.num_envs
        for i in idx:
            values[i] = value
        self.venv.set_attr(attr_name, values)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list:
        results = self.venv.call(method_name, *method_args, **method_kwargs)
        return [results[i] for i in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self):
        return list(self.venv.render())

    # --- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _row_info(infos: dict, i: int) -> dict:
        out = {}
        for k, v in infos.items():
            mask = infos.get(f"_{k}")
            if not k.startswith("_") and (mask is None or mask[i]):
                out[k] = SB3VecEnv._row_info(v, i) if isinstance(v, dict) else v[i]
        return out


def make_sb3_vec_env(num_envs: int = 4, **kwargs) -> SB3VecEnv:
    """A :class:`DreamVectorEnv` of ``num_envs`` (keyword arguments as for it) made for SB3."""
    kwargs["autoreset_mode"] = AutoresetMode.SAME_STEP
    return SB3VecEnv(DreamVectorEnv(num_envs, **kwargs))
