"""Receding-horizon control: plan, execute the first actions, re-plan with warm start.

:class:`MPC` is synchronous; :class:`AsyncMPC` runs the planner in a worker thread so an
asyncio control loop (camera reads, robot I/O) keeps running while the model thinks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from .base import PlanResult, TrajectoryOptimizer


@dataclass
class MPCTrace:
    """What ``MPC.run`` did: frames (N+1, H, W, 3) uint8 (start included), actions (N, A),
    the PlanResult of every re-plan, and the final info."""

    frames: np.ndarray
    actions: np.ndarray
    plans: list[PlanResult] = field(default_factory=list)
    success: bool = False
    final_info: dict = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def plan_wall_s(self) -> list[float]:
        return [p.wall_s for p in self.plans]


class MPC:
    """Model-predictive control around a planner.

    Args:
        planner: any :class:`~planners.base.TrajectoryOptimizer`.
        execute_steps: actions executed per re-plan (default: one chunk of the model).
    """

    def __init__(self, planner: TrajectoryOptimizer, *, execute_steps: int | None = None) -> None:
        self.planner = planner
        chunk = planner.model.spec.chunk_size
        self.execute_steps = chunk if execute_steps is None else execute_steps
        if not isinstance(self.execute_steps, numbers.Integral) or not 1 <= self.execute_steps <= planner.horizon:
            raise ValueError(f"execute_steps must be in [1, horizon = {planner.horizon}], got {self.execute_steps!r}")
        self.last: PlanResult | None = None

    def reset(self) -> None:
        self.planner.reset()
        self.last = None

    def act(self, frame) -> np.ndarray:
        """Plan from ``frame`` and return the next ``execute_steps`` actions (execute_steps, A);
        the planner's next call warm-starts from this plan shifted by them."""
        result = self.planner.plan(frame)
        self.last = result
        self.planner.shift(self.execute_steps, result.actions)
        return result.actions[: self.execute_steps].copy()

    def predicted_frame(self, frame, plan: np.ndarray, plan_frames: np.ndarray | None = None) -> np.ndarray:
        """The model's frame after the first ``execute_steps`` actions of ``plan`` from ``frame``
        (what background planning plans from while those actions run): taken from
        ``plan_frames`` (the planner's own rollout of the plan) when given, else rolled out."""
        if plan_frames is not None:
            return np.asarray(plan_frames[self.execute_steps - 1])
        planner = self.planner
        batch = planner.model.predict_batch(frame, np.asarray(plan, np.float32)[None], seed=planner.rollout_seed)
        return np.asarray(batch.frames[0, self.execute_steps - 1])

    def run(
        self,
        env,
        *,
        max_steps: int,
        reset_kwargs: dict | None = None,
        obs=None,
        on_plan=None,
        background: bool = False,
    ) -> MPCTrace:
        """Control ``env`` for at most ``max_steps`` actions (or until it terminates).

        The env may take one action ``(A,)`` per step (e.g. ``dreamgym/Push-v0``) or one chunk
        ``(execute_steps, A)`` per step (``DreamEnv``, ``ChunkedEnv``). Pass ``obs`` to skip
        the reset. ``on_plan(result)`` is called after every re-plan.

        ``background=True`` plans while the robot moves: once a chunk is chosen, the next plan
        starts in a worker thread from the model's predicted frame at the chunk's end (warm
        started as usual) while the chunk executes, and is taken when the chunk is done. The
        feedback is then one chunk late: each plan sees the real frame of one chunk earlier.
        A robot (or an env) that spends its time waiting on I/O gains the planning time.
        """
        t0 = time.perf_counter()
        self.reset()
        info: dict = {}
        if obs is None:
            obs, info = env.reset(**(reset_kwargs or {}))
        per_step = tuple(env.action_space.shape) == (self.planner.action_dim,)
        if not per_step and tuple(env.action_space.shape) != (self.execute_steps, self.planner.action_dim):
            raise ValueError(
                f"env actions {env.action_space.shape} fit neither one action ({self.planner.action_dim},) nor one "
                f"chunk ({self.execute_steps}, {self.planner.action_dim})"
            )
        frames, actions, plans = [np.asarray(obs)], [], []
        done = False
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1) if background else None
        ahead: concurrent.futures.Future | None = None
        try:
            while len(actions) < max_steps and not done:
                if ahead is None:
                    chunk = self.act(obs)
                else:  # the plan made while the previous chunk ran
                    self.last = ahead.result()
                    self.planner.shift(self.execute_steps, self.last.actions)
                    chunk = self.last.actions[: self.execute_steps].copy()
                    ahead = None
                plans.append(self.last)
                if on_plan is not None:
                    on_plan(self.last)
                if pool is not None and len(actions) + len(chunk) < max_steps:
                    start, plan, seen = np.asarray(obs), self.last.actions, self.last.plan_frames
                    ahead = pool.submit(
                        lambda s=start, p=plan, f=seen: self.planner.plan(self.predicted_frame(s, p, f))
                    )
                obs, info, done = self._execute(env, chunk, per_step, max_steps, frames, actions)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        return MPCTrace(
            np.stack(frames),
            np.stack(actions),
            plans,
            bool(info.get("is_success", False)),
            info,
            time.perf_counter() - t0,
        )

    def _execute(self, env, chunk, per_step: bool, max_steps: int, frames: list, actions: list):
        """Run ``chunk`` in ``env``; appends to ``frames`` and ``actions``; returns (obs, info, done)."""
        done, obs, info = False, None, {}
        if per_step:
            for a in chunk[: max_steps - len(actions)]:
                obs, _, term, trunc, info = env.step(a)
                frames.append(obs)
                actions.append(a)
                if term or trunc:
                    done = True
                    break
        else:
            obs, _, term, trunc, info = env.step(chunk)
            frames.extend(info.get("frames", [obs]))
            actions.extend(chunk)
            done = bool(term or trunc)
        return obs, info, done


class AsyncMPC(MPC):
    """MPC whose planning runs off the event loop: ``await mpc.act_async(frame)``."""

    def __init__(self, planner: TrajectoryOptimizer, *, execute_steps: int | None = None, executor=None) -> None:
        super().__init__(planner, execute_steps=execute_steps)
        self._executor = executor or concurrent.futures.ThreadPoolExecutor(max_workers=1)

    async def act_async(self, frame) -> np.ndarray:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.act, frame)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
