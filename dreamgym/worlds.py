"""The world protocol: what a world that plays "the real robot" provides, and the worlds there are.

A world is the ground truth a world model is judged against. Both of ours satisfy one
protocol, :class:`World`, so that the MPC demo, the policy evaluator and the benchmarks run on
either by name (``get_world("toy")``, ``get_world("pusht")``):

* a real env (``make_env``) that resets to a given start state and goal (``reset_options``);
* an exact :class:`~engine.protocol.WorldModel` (``exact_model``), so every planner can run
  on ground truth: its success is the ceiling for a learned model;
* a renderer at the model's resolution (``render``) and a frame-only reader of the task state
  (``read_state``): success judges and policies see only frames;
* success judges on true states (``is_success``) and on frames (``frame_success``), and the
  task errors they are made of (``errors``, ``criterion`` in words);
* tasks by seed purpose (``task(name, index, purpose)``, seeds from :mod:`dreamgym.seeds`)
  with their step budget (``budget``) and planning scorer (``scorer``);
* a policy zoo of graded quality (``policy_zoo``) and a dataset writer (``write_episodes``).

A world never imports the dream envs or the evaluator (tests/test_layering.py); they import it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

WORLDS = {
    "toy": "dreamgym.toyworld.world:TOY",
    "pusht": "dreamgym.pusht.world:PUSHT",
}


@runtime_checkable
class World(Protocol):
    """What a world provides (see the module docstring). States are float64 arrays of
    ``state_dim`` numbers in the world's own units; frames are (H, W, 3) uint8 at the
    resolution of ``learned_model``'s spec; a goal image is the frame of a goal state."""

    name: str
    env_id: str
    tasks: tuple[str, ...]
    state_dim: int
    learned_model: str  # the catalog spec of the world model trained on this world

    def make_env(self, task: str, max_episode_steps: int | None = None) -> gym.Env:
        """The real env of ``task`` (one action per step), through ``gym.make``."""

    def reset_options(self, start: np.ndarray, goal: np.ndarray, task: str) -> dict:
        """The env's ``reset(options=...)`` that starts exactly in ``start`` with goal ``goal``."""

    def exact_model(self):
        """An exact :class:`~engine.protocol.WorldModel` of this world (64x64, chunks of 8)."""

    def render(self, states: np.ndarray) -> np.ndarray:
        """Frames (N, H, W, 3) uint8 of states (N, state_dim)."""

    def read_state(self, frames: np.ndarray) -> np.ndarray:
        """States (..., state_dim) read off frames (..., H, W, 3) alone; NaN where unreadable."""

    def errors(self, state: np.ndarray, goal: np.ndarray, task: str) -> dict[str, float]:
        """The task's errors of ``state`` against ``goal`` (what ``is_success`` thresholds)."""

    def criterion(self, task: str) -> str:
        """The task's success criterion in words."""

    def is_success(self, state: np.ndarray, goal: np.ndarray, task: str) -> bool:
        """Success judged on true states."""

    def frame_success(self, task: str) -> Callable[[np.ndarray, np.ndarray], bool]:
        """A judge ``judge(frames (n, H, W, 3), goal_image) -> bool`` that sees only frames."""

    def task(self, task: str, index: int, purpose: str = "evaluation") -> tuple[np.ndarray, np.ndarray]:
        """(start state, goal state) of episode ``index`` of ``purpose``'s seed range."""

    def budget(self, task: str) -> int:
        """The steps an episode of ``task`` gets."""

    def scorer(self, task: str, goal_image: np.ndarray):
        """The planning scorer ``task`` is benchmarked with (:class:`engine.scoring.Scorer`)."""

    def policy_zoo(self, chunk_size: int = 8, seed: int = 0) -> dict[str, Callable]:
        """Frame-based chunk policies of graded quality, best first."""

    def write_episodes(
        self, path: str | os.PathLike, n: int, *, purpose: str = "training", length: int | None = None
    ) -> Path:
        """Write ``n`` episodes of ``purpose``'s seed range to an .npz the trainer reads
        (``frames`` (N, L+1, H, W, 3) uint8, ``actions`` (N, L, A) float32, ``states``, ``seeds``)."""


class WorldBase:
    """What both worlds share: the env through ``gym.make`` with a long default time limit
    (the task's budget is the caller's), and a plain repr."""

    env_id: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def make_env(self, task: str, max_episode_steps: int | None = None) -> gym.Env:
        return gym.make(self.env_id, task=task, max_episode_steps=max_episode_steps or 10_000)


def get_world(name: str) -> World:
    """The world called ``name`` (``"toy"`` or ``"pusht"``; PushT needs the ``pusht`` extra)."""
    if name not in WORLDS:
        raise ValueError(f"world must be one of {sorted(WORLDS)}, got {name!r}")
    module, _, attr = WORLDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


__all__ = ["WORLDS", "World", "WorldBase", "get_world"]
