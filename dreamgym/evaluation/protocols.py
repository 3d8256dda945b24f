"""Evaluation protocols of the worlds: :func:`evaluate_in_world` runs
:func:`~dreamgym.evaluation.evaluate_policies` on any world of the world protocol
(:mod:`dreamgym.worlds`) — its tasks from a seed purpose, its real env run chunk by chunk, its
frame-only success judge in the dream — so that a benchmark and an example spell a protocol
once. The worlds never import the evaluator; the evaluator imports the worlds.
"""

from __future__ import annotations

from ..dream_env import DreamEnv
from ..worlds import World, get_world
from ..wrappers import ChunkedEnv
from .policy_eval import evaluate_policies


def evaluate_in_world(
    world: str | World,
    policies,
    engine=None,
    *,
    episodes: int,
    task: str | None = None,
    max_frames: int | None = None,
    purpose: str = "evaluation",
    seed: int = 0,
    **kw,
):
    """:func:`dreamgym.evaluation.evaluate_policies` on ``world``'s ``task`` episodes of
    ``purpose``'s seed range: ``Dream-v0`` on ``engine`` (default: the world's learned model)
    against the world's real env run chunk by chunk, success in the dream judged from frames
    (``world.frame_success``), in the real world by the env.

    ``task`` defaults to the world's first task, ``max_frames`` to the whole chunks that fit
    in its budget (PushT's 50-step protocol: 6 chunks, 48 frames). ``kw`` goes through
    (``progress``, ``n_boot``)."""
    world = get_world(world) if isinstance(world, str) else world
    task = world.tasks[0] if task is None else task
    if task not in world.tasks:
        raise ValueError(f"task must be one of {world.tasks} for world {world.name!r}, got {task!r}")
    dream = DreamEnv(engine=world.learned_model if engine is None else engine)
    chunk = dream.spec_model.chunk_size
    real = ChunkedEnv(world.make_env(task), chunk)

    def real_options(i: int) -> dict:
        return world.reset_options(*world.task(task, i, purpose), task)

    return evaluate_policies(
        policies,
        dream,
        real,
        episodes=episodes,
        seed=seed,
        max_frames=world.budget(task) // chunk * chunk if max_frames is None else max_frames,
        real_options=real_options,
        dream_success=world.frame_success(task),
        **kw,
    )


def evaluate_push_policies(policies, engine="push-64", *, episodes: int, max_frames: int = 32, seed: int = 0, **kw):
    """The toy world's push protocol of docs/evaluation.md: :func:`evaluate_in_world` on the
    toy world's push task with a 32-frame budget."""
    return evaluate_in_world(
        "toy", policies, engine, episodes=episodes, task="push", max_frames=max_frames, seed=seed, **kw
    )


__all__ = ["evaluate_in_world", "evaluate_push_policies"]
