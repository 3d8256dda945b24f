"""``dreamgym/Dream-v0``: a world model as a Gymnasium environment.

One step is one action chunk ``(chunk_size, action_dim)`` float32 within the spec's bounds;
the observation is the last predicted frame ``(H, W, 3)`` uint8 and ``info["frames"]`` holds
the whole chunk ``(chunk_size, H, W, 3)``.

``reset(seed=..., options=...)`` options: ``start_frame`` (H, W, 3) uint8; otherwise one of
the start frames given at construction (or the checkpoint's example frames) is picked with
the env's RNG. ``goal_image`` (H, W, 3) uint8 makes the episode goal-conditioned: it is in
``info["goal_image"]``, and the reward becomes ``scorer.with_goal(goal)`` (e.g. the planners'
``GoalDistance``) or, without such a scorer, :func:`goal_reward`. The engine's noise seed is
drawn from the env's RNG (``info["engine_seed"]``), so a seeded episode is reproducible, and
stepping it chunk by chunk gives exactly ``engine.predict(start_frame, actions_so_far, seed=info["engine_seed"])``.

Reward: ``scorer(frames (1, chunk, H, W, 3), actions (1, chunk, A)) -> (1,)`` if a scorer is
given (the planners' scorer protocol), else 0. Termination: ``success_fn(frames_chunk)``
if given. Truncation: ``max_episode_steps`` chunks (the TimeLimit of ``gym.make``).
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

import engine as engine_lib
from engine.scoring import as_rewards
from engine.validation import as_actions, as_frame, as_guidance, as_num_steps

from .start_frames import load_start_frames

SEED_HIGH = 2**63 - 1


def spaces_for(spec) -> tuple[spaces.Box, spaces.Box]:
    """(observation_space, action_space) of one env for ``spec``."""
    obs = spaces.Box(0, 255, (*spec.resolution, 3), np.uint8)
    act = spaces.Box(
        np.float32(spec.action_low), np.float32(spec.action_high), (spec.chunk_size, spec.action_dim), np.float32
    )
    return obs, act


def score_rewards(scorer, frames: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Rewards (K,) float64 from a scorer (0 without one); a non-finite score becomes the worst
    finite reward, with a warning (:func:`engine.scoring.as_rewards`)."""
    if scorer is None:
        return np.zeros(len(frames))
    return as_rewards(scorer(frames, actions), len(frames))


def goal_reward(goal_image: np.ndarray) -> Callable:
    """The default reward of a goal given at reset when the scorer cannot take one (no
    ``with_goal``): minus the mean squared pixel error, in [0, 1] units, of each chunk's last
    frame against the goal. Per chunk it is 0 at the goal and about -0.002 to -0.05 elsewhere
    on push-64, so scale it (or normalise, e.g. SB3's VecNormalize) before RL."""
    goal = goal_image.astype(np.float64) / 255.0

    def reward(frames, actions=None):
        last = np.asarray(frames)[:, -1].astype(np.float64) / 255.0
        return -((last - goal) ** 2).mean(axis=(1, 2, 3))

    return reward


def check_env_options(scorer, success_fn, num_steps, guidance, spec) -> None:
    """Raise before any model work when a DreamEnv / DreamVectorEnv option is malformed."""
    if scorer is not None and not callable(scorer):
        raise TypeError(f"scorer must be None or callable as scorer(frames, actions) -> (K,) scores, got {scorer!r}")
    if success_fn is not None and not callable(success_fn):
        raise TypeError(f"success_fn must be None or callable as success_fn(frames) -> bool, got {success_fn!r}")
    if num_steps is not None:
        as_num_steps(num_steps, spec)
    if guidance is not None:
        as_guidance(guidance, spec)


class DreamEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        engine=None,
        scorer: Callable | None = None,
        success_fn: Callable[[np.ndarray], bool] | None = None,
        start_frames=None,
        render_mode: str | None = None,
        num_steps: int | None = None,
        guidance: float | None = None,
    ) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.engine = engine_lib.open(engine)
        self.spec_model = self.engine.spec
        check_env_options(scorer, success_fn, num_steps, guidance, self.spec_model)
        self.metadata = {**self.metadata, "render_fps": self.spec_model.fps}
        self.render_mode = render_mode
        self.scorer, self.success_fn = scorer, success_fn
        self.num_steps, self.guidance = num_steps, guidance
        self.observation_space, self.action_space = spaces_for(self.spec_model)
        frames = load_start_frames(start_frames, self.spec_model)
        self.start_frames = frames if frames is not None else self.engine.example_frames
        self._state = None
        self._obs = np.zeros(self.observation_space.shape, np.uint8)
        self.engine_seed = 0
        self.goal_image: np.ndarray | None = None
        self._goal_scorer = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        frame = options.pop("start_frame", None)
        goal = options.pop("goal_image", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; expected 'start_frame', 'goal_image'")
        self.goal_image = None if goal is None else as_frame(goal, self.spec_model, name="options['goal_image']")
        self._goal_scorer = None
        if self.goal_image is not None:
            with_goal = getattr(self.scorer, "with_goal", None)
            self._goal_scorer = with_goal(self.goal_image) if callable(with_goal) else goal_reward(self.goal_image)
        self.engine_seed = int(self.np_random.integers(0, SEED_HIGH))
        if frame is not None:
            frame = as_frame(frame, self.spec_model, name="options['start_frame']")
        elif self.start_frames is not None:
            frame = self.start_frames[int(self.np_random.integers(0, len(self.start_frames)))]
        else:
            raise ValueError(
                "no start frame: pass reset(options={'start_frame': frame}) or start_frames= when making the env"
            )
        self._state = self.engine.start(frame[None], self.engine_seed, self.num_steps, self.guidance)
        self._obs = frame.copy()
        return self._obs.copy(), self._with_goal(
            {"engine_seed": self.engine_seed, "chunk_index": 0, "is_success": False}
        )

    def _with_goal(self, info: dict) -> dict:
        if self.goal_image is not None:
            info["goal_image"] = self.goal_image.copy()
        return info

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        chunk = self._as_chunk(action)
        frames, self._state = self.engine.step(self._state, chunk[None])
        scorer = self._goal_scorer if self._goal_scorer is not None else self.scorer
        reward = float(score_rewards(scorer, frames, chunk[None])[0])
        self._obs = frames[0, -1].copy()
        success = bool(self.success_fn(frames[0])) if self.success_fn is not None else False
        info = {
            "frames": frames[0],
            "engine_seed": self.engine_seed,
            "chunk_index": int(self._state.chunk_index[0]),
            "is_success": success,
        }
        return self._obs.copy(), reward, success, False, self._with_goal(info)

    def _as_chunk(self, action) -> np.ndarray:
        """One action chunk (chunk_size, A) float32, checked against the spec."""
        chunk = as_actions(action, self.spec_model, name="action")
        if chunk.shape[0] != self.spec_model.chunk_size:
            raise ValueError(
                f"action must be one chunk of shape ({self.spec_model.chunk_size}, {self.spec_model.action_dim}), "
                f"got {chunk.shape}"
            )
        return chunk

    def peek(self, action) -> np.ndarray:
        """The frames (chunk_size, H, W, 3) ``action`` (one chunk) would produce from here,
        without advancing the episode (what ``PerStepAdapter(mode="closed_loop")`` uses)."""
        if self._state is None:
            raise RuntimeError("call reset() before peek()")
        chunk = self._as_chunk(action)
        frames, _ = self.engine.peek(self._state, chunk[None])
        return frames[0]

    def render(self):
        return self._obs.copy()
