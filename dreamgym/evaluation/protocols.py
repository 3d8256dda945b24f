"""Evaluation protocols of the worlds: each runs :func:`~dreamgym.evaluation.evaluate_policies`
on a world's own episodes, envs and frame-only success judge, so that a benchmark and an
example spell the protocol once. The worlds never import the evaluator; the evaluator imports
the worlds.
"""

from __future__ import annotations

import gymnasium as gym

from ..dream_env import DreamEnv
from ..toyworld.seeds import base
from ..toyworld.zoo import FrameSuccess, reset_options
from ..wrappers import ChunkedEnv
from .policy_eval import evaluate_policies


def evaluate_push_policies(policies, engine="push-64", *, episodes: int, max_frames: int = 32, seed: int = 0, **kw):
    """:func:`dreamgym.evaluation.evaluate_policies` on the toy world's push episodes of the
    evaluation seed range: ``Dream-v0`` on ``engine`` against ``Push-v0`` run chunk by chunk,
    success in the dream judged from frames (:class:`FrameSuccess`). ``kw`` goes through
    (``progress``, ``n_boot``)."""
    dream = DreamEnv(engine=engine)
    real = ChunkedEnv(gym.make("dreamgym/Push-v0", task="push", max_episode_steps=10_000), dream.spec_model.chunk_size)
    return evaluate_policies(
        policies,
        dream,
        real,
        episodes=episodes,
        seed=seed,
        max_frames=max_frames,
        real_options=reset_options("push", base("evaluation")),
        dream_success=FrameSuccess("push"),
        **kw,
    )


__all__ = ["evaluate_push_policies"]
