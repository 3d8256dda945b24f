"""Wrappers and adapters for dream and toy-world environments.

* :class:`RecordMP4` — writes every frame of every episode to ``<folder>/episode-<n>.mp4``
  with PyAV: the start frame, then each chunk's frames (``info["frames"]``), or one frame
  per step for per-step envs. No moviepy; Gymnasium's RecordVideo keeps one frame per step.
* :class:`PerStepAdapter` — lets a policy that emits one action per control step (LeRobot
  style, action ``(action_dim,)``) drive a chunked env: actions are collected into a chunk,
  the chunk is predicted, and its frames are then returned one per step.
* :class:`ChunkedEnv` — the reverse: runs a per-step env (``dreamgym/Push-v0``) one chunk at
  a time with the dream env's conventions, so one chunk policy runs in both.
"""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from engine import write_mp4


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


class PerStepAdapter(gym.Wrapper):
    """One action per step on top of a chunked env.

    Step ``t`` buffers the action. Every ``chunk_size`` steps the buffered chunk is sent to the
    wrapped env in one call; the frames it predicts are then returned one per step over the
    next ``chunk_size`` steps. So the observation lags the actions by one chunk (the price of
    predicting a chunk at once); until the first chunk is predicted, the start frame repeats.
    Rewards of a chunk are paid on the step that completes it; termination and truncation
    are reported once its frames have been replayed.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        chunk_space = env.action_space
        self.chunk_size, self.act_dim = chunk_space.shape
        self.action_space = spaces.Box(chunk_space.low[0], chunk_space.high[0], (self.act_dim,), np.float32)
        self._buffer: list[np.ndarray] = []
        self._replay: list[np.ndarray] = []
        self._pending_end = (False, False)
        self._last_info: dict = {}

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._buffer, self._replay = [], [np.asarray(obs)] * self.chunk_size
        self._pending_end = (False, False)
        return obs, info

    def step(self, action):
        a = np.asarray(action, dtype=np.float32)
        if a.shape != (self.act_dim,):
            raise ValueError(f"action must have shape ({self.act_dim},), got {a.shape}")
        self._buffer.append(a)
        obs = self._replay.pop(0)
        reward, terminated, truncated = 0.0, False, False
        if len(self._buffer) == self.chunk_size:
            if any(self._pending_end):
                terminated, truncated = self._pending_end
            else:
                _, reward, term, trunc, info = self.env.step(np.stack(self._buffer))
                self._replay = list(info["frames"])
                self._pending_end = (term, trunc)
                self._last_info = info
            self._buffer = []
        info = {"is_success": bool(self._last_info.get("is_success", False)), "replay_lag_steps": self.chunk_size}
        return obs, float(reward), terminated, truncated, info


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
