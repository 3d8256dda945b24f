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

    def run(self, env, *, max_steps: int, reset_kwargs: dict | None = None, obs=None, on_plan=None) -> MPCTrace:
        """Control ``env`` for at most ``max_steps`` actions (or until it terminates).

        The env may take one action ``(A,)`` per step (e.g. ``dreamgym/Push-v0``) or one chunk
        ``(execute_steps, A)`` per step (``DreamEnv``, ``ChunkedEnv``). Pass ``obs`` to skip
        the reset. ``on_plan(result)`` is called after every re-plan.
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
        while len(actions) < max_steps and not done:
            chunk = self.act(obs)
            plans.append(self.last)
            if on_plan is not None:
                on_plan(self.last)
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
        return MPCTrace(
            np.stack(frames),
            np.stack(actions),
            plans,
            bool(info.get("is_success", False)),
            info,
            time.perf_counter() - t0,
        )


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
