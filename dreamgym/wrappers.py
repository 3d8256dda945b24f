"""Wrappers and adapters for dream and toy-world environments.

* :class:`RecordMP4` — writes every frame of every episode to ``<folder>/episode-<n>.mp4``
  with PyAV: the start frame, then each chunk's frames (``info["frames"]``), or one frame
  per step for per-step envs. No moviepy; Gymnasium's RecordVideo keeps one frame per step.
* :class:`PerStepAdapter` — lets a policy that emits one action per control step (LeRobot
  style, action ``(action_dim,)``) drive a chunked env, open loop (a chunk predicted at once,
  its frames replayed) or closed loop (each step sees the frame its action produced).
* :class:`ChunkedEnv` — the reverse: runs a per-step env (``dreamgym/Push-v0``) one chunk at
  a time with the dream env's conventions, so one chunk policy runs in both.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from engine import write_mp4
from engine.validation import as_int


class RecordMP4(gym.Wrapper):
    """Record every frame to mp4. ``fps`` defaults to the env's ``metadata["render_fps"]``."""

    def __init__(self, env: gym.Env, folder: str | os.PathLike, name_prefix: str = "episode", fps: int | None = None):
        super().__init__(env)
        self.folder = Path(folder)
        self.name_prefix = name_prefix
        self.fps = int(fps or env.metadata.get("render_fps", 10))
        self.episode = -1
        self._frames: list[np.ndarray] = []
        self.paths: list[Path] = []

    def _flush(self) -> None:
        if self._frames:
            path = self.folder / f"{self.name_prefix}-{self.episode}.mp4"
            write_mp4(path, np.stack(self._frames), self.fps)
            self.paths.append(path)
        self._frames = []

    def reset(self, **kwargs):
        self._flush()
        obs, info = self.env.reset(**kwargs)
        self.episode += 1
        self._frames = [np.asarray(obs)]
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        frames = info.get("frames")
        self._frames.extend(list(frames) if frames is not None else [np.asarray(obs)])
        if terminated or truncated:
            self._flush()
        return obs, reward, terminated, truncated, info

    def close(self):
        self._flush()
        super().close()


class RobotClock(gym.Wrapper):
    """An env whose every step takes ``1 / hz`` seconds of wall time, as a robot's does: after
    the wrapped step it sleeps the rest of the period. For measuring control rates, e.g. what
    planning in the background (``MPC.run(background=True)``) overlaps."""

    def __init__(self, env: gym.Env, hz: float) -> None:
        super().__init__(env)
        if isinstance(hz, bool) or not isinstance(hz, int | float) or not 0 < hz <= 1000:
            raise ValueError(f"hz must be a number in (0, 1000], got {hz!r}")
        self.period = 1.0 / float(hz)

    def step(self, action):
        t0 = time.perf_counter()
        out = self.env.step(action)
        time.sleep(max(0.0, self.period - (time.perf_counter() - t0)))
        return out


@runtime_checkable
class PeekableEnv(Protocol):
    """A chunked env that shows the frames (chunk_size, H, W, 3) a chunk would produce without
    advancing (``DreamEnv.peek``): what closed-loop per-step control needs."""

    def peek(self, action) -> np.ndarray: ...


class StepBuffer:
    """The per-step core both adapters share (rows ``N``; one env is ``N = 1``).

    It buffers one action per row per step into a chunk, pads a partial chunk by holding each
    row's latest action (:meth:`chunk`), and picks the frame a step shows: closed loop, the
    frame at this step of what was just predicted; open loop, the frame at this step of the
    previous chunk (the start frame before the first), so observations lag by one chunk.
    """

    def __init__(self, chunk_size: int, mode: str) -> None:
        self.chunk_size, self.mode = chunk_size, mode
        self.actions: list[np.ndarray] = []
        self.replay: np.ndarray | None = None

    def reset(self, obs: np.ndarray) -> None:
        """Start episodes from observations (N, H, W, 3)."""
        self.actions = []
        self.replay = np.repeat(np.asarray(obs)[:, None], self.chunk_size, axis=1)

    def push(self, actions: np.ndarray) -> int:
        """Buffer this step's actions (N, A); returns the step's index in its chunk."""
        self.actions.append(actions)
        return len(self.actions) - 1

    @property
    def full(self) -> bool:
        return len(self.actions) == self.chunk_size

    def chunk(self) -> np.ndarray:
        """(N, chunk_size, A): the buffered actions, the latest one held to the chunk's end."""
        held = self.actions + [self.actions[-1]] * (self.chunk_size - len(self.actions))
        return np.stack(held, axis=1)

    def commit(self, frames: np.ndarray) -> np.ndarray:
        """The observation (N, H, W, 3) of the step that completed a chunk whose predicted
        frames are ``frames`` (N, chunk_size, H, W, 3); the buffer starts the next chunk."""
        j = len(self.actions) - 1
        self.actions = []
        if self.mode == "closed_loop":
            return frames[:, j].copy()
        out = self.replay[:, j].copy()
        self.replay = np.array(frames, copy=True)
        return out

    def current(self, peeked: np.ndarray | None = None) -> np.ndarray:
        """The observation (N, H, W, 3) of a step inside a chunk: closed loop, from ``peeked``
        (the padded chunk's frames, N, chunk_size, H, W, 3); open loop, from the previous chunk."""
        j = len(self.actions) - 1
        return (peeked if self.mode == "closed_loop" else self.replay)[:, j].copy()


class PerStepAdapter(gym.Wrapper):
    """One action ``(action_dim,)`` per step on top of a chunked env (a ``DreamEnv``).

    Two modes:

    * ``"open_loop"`` (default): step ``t`` buffers the action; every ``chunk_size`` steps the
      chunk is predicted in one model call and its frames are returned one per step over the
      next chunk. The observation lags the actions by one chunk (``info["lag_steps"]``); the
      start frame repeats until the first chunk is predicted. One model call per chunk.
    * ``"closed_loop"``: every step returns the frame the action just taken produced: the
      chunk so far, padded by holding the latest action, is predicted without advancing the
      episode (``env.peek``), and the frame at this step is returned; the chunk's last step
      commits it. A per-step policy then sees the effect of its own action, at
      ``chunk_size`` model calls per chunk instead of one. The DiT attends over the whole
      chunk, so a frame seen mid-chunk can differ slightly from the same frame once the rest
      of the chunk is known.

    Episode ends: the step that completes a chunk reports the inner env's termination or
    truncation at once (its last frame is the observation; no action is dropped).
    ``max_episode_steps`` (per step; default: the inner env's limit in chunks times
    ``chunk_size``) truncates at exactly that step, predicting a partial chunk padded by the
    held action. Rewards and ``is_success`` come from the inner env, on chunk-completing
    steps. ``info`` also carries ``engine_seed``, ``step`` and, on those steps, the chunk's
    ``frames``. Observations are fresh arrays every step.
    """

    MODES = ("open_loop", "closed_loop")

    def __init__(self, env: gym.Env, mode: str = "open_loop", max_episode_steps: int | None = None):
        super().__init__(env)
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}")
        chunk_space = env.action_space
        if len(chunk_space.shape) != 2:
            raise ValueError(
                f"PerStepAdapter wraps a chunked env (action (chunk, A)); got action shape {chunk_space.shape}"
            )
        if mode == "closed_loop" and not isinstance(env.unwrapped, PeekableEnv):
            raise TypeError(
                f"closed_loop needs an env with peek(chunk) (DreamEnv); {type(env.unwrapped).__name__} has none"
            )
        self.mode = mode
        self.chunk_size, self.act_dim = chunk_space.shape
        self.action_space = spaces.Box(chunk_space.low[0], chunk_space.high[0], (self.act_dim,), np.float32)
        inner_limit = env.spec.max_episode_steps if env.spec is not None else None
        if max_episode_steps is None and inner_limit is not None:
            max_episode_steps = inner_limit * self.chunk_size
        if max_episode_steps is not None:
            max_episode_steps = as_int(max_episode_steps, "max_episode_steps (per step, or None)", low=1)
        self.max_episode_steps = max_episode_steps
        self._core = StepBuffer(self.chunk_size, mode)
        self._steps = 0
        self._live = False
        self._seed_info: dict = {}

    @property
    def spec(self):
        spec = self.env.spec
        if spec is None:
            return None
        import dataclasses

        return dataclasses.replace(spec, max_episode_steps=self.max_episode_steps)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        obs = np.array(obs, copy=True)
        self._core.reset(obs[None])
        self._steps, self._live = 0, True
        self._seed_info = {k: info[k] for k in ("engine_seed",) if k in info}
        return obs.copy(), {**info, "step": 0, "is_success": bool(info.get("is_success", False))}

    def _check(self, action) -> np.ndarray:
        a = np.asarray(action, dtype=np.float32)
        if a.shape != (self.act_dim,):
            raise ValueError(f"action must have shape ({self.act_dim},), got {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"action must be finite, got {a}")
        lo, hi = self.action_space.low, self.action_space.high
        if (a < lo).any() or (a > hi).any():
            raise ValueError(f"action {a} at step {self._steps} lies outside the bounds [{lo[0]}, {hi[0]}]")
        return a

    def step(self, action):
        if not self._live:
            raise RuntimeError("call reset() before step()" if self._steps == 0 else "the episode ended; call reset()")
        a = self._check(action)
        j = self._core.push(a[None])
        self._steps += 1
        at_limit = self.max_episode_steps is not None and self._steps >= self.max_episode_steps
        info = {**self._seed_info, "step": self._steps, "is_success": False}
        reward, terminated, truncated = 0.0, False, False
        if self._core.full or at_limit:
            _, reward, terminated, truncated, inner = self.env.step(self._core.chunk()[0])
            frames = np.asarray(inner["frames"])
            truncated = bool(truncated or at_limit) and not terminated
            info.update({k: v for k, v in inner.items() if k != "frames"})
            info["frames"] = frames.copy()
            info["is_success"] = bool(inner.get("is_success", False))
            obs = self._core.commit(frames[None])[0]
            if terminated or truncated:  # the frame this action produced, whatever the mode
                obs = frames[j]
                self._live = False
        elif self.mode == "closed_loop":
            obs = self._core.current(np.asarray(self.env.unwrapped.peek(self._core.chunk()[0]))[None])[0]
        else:
            obs = self._core.current()[0]
        if self.mode == "open_loop":
            info["lag_steps"] = self.chunk_size
        return np.array(obs, copy=True), float(reward), bool(terminated), bool(truncated), info


class ChunkedEnv(gym.Wrapper):
    """Run a per-step env one chunk at a time: ``step(chunk (chunk_size, A))`` -> the last
    frame, the summed reward, and ``info["frames"]`` (chunk_size, H, W, 3). Stops early inside
    a chunk when the episode ends (the remaining frames repeat the last one)."""

    def __init__(self, env: gym.Env, chunk_size: int):
        super().__init__(env)
        self.chunk_size = int(chunk_size)
        inner = env.action_space
        self.action_space = spaces.Box(
            np.repeat(inner.low[None], self.chunk_size, 0),
            np.repeat(inner.high[None], self.chunk_size, 0),
            (self.chunk_size, *inner.shape),
            np.float32,
        )

    def step(self, action):
        chunk = np.asarray(action)
        if chunk.shape != self.action_space.shape:
            raise ValueError(f"action must be one chunk of shape {self.action_space.shape}, got {chunk.shape}")
        frames, total = [], 0.0
        terminated = truncated = False
        info: dict = {}
        for a in chunk:
            obs, r, terminated, truncated, info = self.env.step(a)
            frames.append(obs)
            total += float(r)
            if terminated or truncated:
                break
        frames += [frames[-1]] * (self.chunk_size - len(frames))
        info = {**info, "frames": np.stack(frames)}
        return frames[-1], total, terminated, truncated, info


class GoalObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Goal-conditioned observations in the ``Dict(observation, achieved_goal, desired_goal)``
    convention (Gymnasium-Robotics, SB3's HER), on a ``DreamEnv``.

    The goal of an episode is ``reset(options={"goal_image": img})``, else one of ``goals``
    (N, H, W, 3) drawn with the env's RNG. ``achieved_goal`` is the current frame. The reward
    is the env's goal reward (see ``DreamEnv``)."""

    def __init__(self, env: gym.Env, goals=None):
        gym.utils.RecordConstructorArgs.__init__(self, goals=goals)
        gym.Wrapper.__init__(self, env)
        self.goals = None if goals is None else np.stack([np.asarray(g, np.uint8) for g in goals])
        if self.goals is not None and (self.goals.ndim != 4 or self.goals.shape[1:] != env.observation_space.shape):
            raise ValueError(f"goals must be (N, *{env.observation_space.shape}) frames, got {self.goals.shape}")
        img = env.observation_space
        self.observation_space = spaces.Dict({"observation": img, "achieved_goal": img, "desired_goal": img})

    def _obs(self, frame) -> dict:
        goal = self.env.unwrapped.goal_image
        return {"observation": np.array(frame), "achieved_goal": np.array(frame), "desired_goal": goal.copy()}

    def reset(self, *, seed=None, options=None):
        options = dict(options or {})
        if "goal_image" not in options:
            if self.goals is None:
                raise ValueError("give reset(options={'goal_image': frame}) or goals= to GoalObservation")
            self.env.unwrapped.reset(seed=seed)  # seeds the RNG that draws the goal
            seed = None
            options["goal_image"] = self.goals[int(self.env.unwrapped.np_random.integers(0, len(self.goals)))]
        obs, info = self.env.reset(seed=seed, options=options)
        return self._obs(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._obs(obs), reward, terminated, truncated, info


class PerStepVectorAdapter(gym.vector.VectorEnv):
    """:class:`PerStepAdapter` for N envs at once: per-step actions ``(N, action_dim)`` over a
    ``DreamVectorEnv`` (SAME_STEP autoreset), every model call batched over the N rows.

    Rows stay in step with each other (episodes end at chunk boundaries: the inner limit is
    counted in chunks), so each chunk is one batched ``step`` (and, closed loop, each other
    step one batched ``peek``). Sub-env ``i`` gives the frames ``PerStepAdapter`` gives on
    the DreamEnv the vector env's sub-env ``i`` equals. A finished row is reset in the step
    that ends it (``info["final_obs"]``, ``info["final_info"]``, as the inner env)."""

    def __init__(self, venv, mode: str = "closed_loop") -> None:
        from gymnasium.vector import AutoresetMode
        from gymnasium.vector.utils import batch_space

        from .vector_env import DreamVectorEnv

        if not isinstance(venv, DreamVectorEnv):
            raise TypeError(f"venv must be a DreamVectorEnv, got {type(venv).__name__}")
        if venv.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError(f"make the DreamVectorEnv with autoreset_mode=SAME_STEP, got {venv.autoreset_mode}")
        if mode not in PerStepAdapter.MODES:
            raise ValueError(f"mode must be one of {PerStepAdapter.MODES}, got {mode!r}")
        self.venv, self.mode = venv, mode
        self.num_envs = venv.num_envs
        self.metadata = dict(venv.metadata)
        self.render_mode = venv.render_mode
        chunk = venv.single_action_space
        self.chunk_size, self.act_dim = chunk.shape
        self.single_observation_space = venv.single_observation_space
        self.observation_space = venv.observation_space
        self.single_action_space = spaces.Box(chunk.low[0], chunk.high[0], (self.act_dim,), np.float32)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._core = StepBuffer(self.chunk_size, mode)
        self._live = False

    def reset(self, *, seed=None, options=None):
        obs, info = self.venv.reset(seed=seed, options=options)
        self._core.reset(obs)
        self._live = True
        return np.array(obs), info

    def step(self, actions):
        if not self._live:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(actions, dtype=np.float32)
        if a.shape != (self.num_envs, self.act_dim):
            raise ValueError(f"actions must have shape ({self.num_envs}, {self.act_dim}), got {a.shape}")
        lo, hi = self.single_action_space.low[0], self.single_action_space.high[0]
        if not np.isfinite(a).all() or (a < lo).any() or (a > hi).any():
            raise ValueError(f"actions must be finite and within [{lo}, {hi}], got min {a.min()}, max {a.max()}")
        self._core.push(a)
        n = self.num_envs
        if self._core.full:
            obs, reward, terminated, truncated, info = self.venv.step(self._core.chunk())
            out = self._core.commit(np.asarray(info["frames"]))
            done = terminated | truncated
            out[done] = np.asarray(obs)[done]  # reset rows show their new start (final_obs has the end)
            self._core.replay[done] = np.asarray(obs)[done][:, None]
            return out, reward, terminated, truncated, info
        peeked = self.venv.peek(self._core.chunk()) if self.mode == "closed_loop" else None
        out = self._core.current(peeked)
        zeros = np.zeros(n, bool)
        return out, np.zeros(n), zeros, zeros.copy(), {}

    def render(self):
        return self.venv.render()

    def close(self, **kwargs):
        self.venv.close(**kwargs)
