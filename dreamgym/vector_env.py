"""``DreamVectorEnv``: N dream environments advanced by one batched ``engine.step``.

Written as one batched computation (like Gymnasium's ``CartPoleVectorEnv``), not N copies:
the model is loaded once and never forked. Sub-env ``i`` behaves exactly like a
``DreamEnv`` reset with seed ``seed + i`` (same start-frame choice, same engine seed, same
frames bit for bit on CPU), so a ``SyncVectorEnv`` of DreamEnvs is its reference.

Autoreset modes (``autoreset_mode=``): ``NEXT_STEP`` (default: a finished sub-env is reset
on the next ``step`` call, whose action for it is ignored), ``SAME_STEP`` (reset within the
step; ``info["final_obs"]``/``info["final_info"]`` hold the finished values) and
``DISABLED`` (call ``reset(options={"reset_mask": mask})`` yourself). Finished rows are
never sent through the model.

Reset options: ``start_frames`` (N, H, W, 3) or ``start_frame`` (H, W, 3) for every row,
and ``reset_mask`` (N,) bool.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

import engine as engine_lib
from engine.validation import as_actions, as_frame, as_frames, as_int

from .dream_env import SEED_HIGH, check_env_options, score_rewards, spaces_for
from .start_frames import load_start_frames


class _Row:
    """Per-sub-env bookkeeping (what ``get_attr``/``set_attr``/``call`` reach)."""

    def __init__(self) -> None:
        self.np_random = None
        self.engine_seed = 0
        self.elapsed_steps = 0
        self.start_frame = None


class DreamVectorEnv(VectorEnv):
    metadata = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.NEXT_STEP, "render_fps": 10}

    def __init__(
        self,
        num_envs: int = 1,
        engine=None,
        scorer: Callable | None = None,
        success_fn: Callable[[np.ndarray], bool] | None = None,
        start_frames=None,
        max_episode_steps: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        num_steps: int | None = None,
        guidance: float | None = None,
    ) -> None:
        num_envs = as_int(num_envs, "num_envs", low=1)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.engine = engine_lib.open(engine)
        self.spec_model = self.engine.spec
        check_env_options(scorer, success_fn, num_steps, guidance, self.spec_model)
        self.num_envs = num_envs
        self.autoreset_mode = (
            autoreset_mode if isinstance(autoreset_mode, AutoresetMode) else AutoresetMode(autoreset_mode)
        )
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode, "render_fps": self.spec_model.fps}
        self.render_mode = render_mode
        self.scorer, self.success_fn = scorer, success_fn
        self.max_episode_steps = max_episode_steps
        self.num_steps, self.guidance = num_steps, guidance
        self.single_observation_space, self.single_action_space = spaces_for(self.spec_model)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        frames = load_start_frames(start_frames, self.spec_model)
        self.start_frames = frames if frames is not None else self.engine.example_frames
        self._rows = [_Row() for _ in range(num_envs)]
        self._state = None
        self._obs = np.zeros(self.observation_space.shape, np.uint8)
        self._done = np.zeros(num_envs, bool)
        self._terminated = np.zeros(num_envs, bool)
        self._truncated = np.zeros(num_envs, bool)

    # --- reset ----------------------------------------------------------------------------
    def _reset_rows(self, idx: np.ndarray, seeds: list, frames: list) -> dict:
        """Reset rows ``idx``; seeds[i]/frames[i] may be None. Returns the info of those rows."""
        infos: dict = {}
        chosen = []
        for j, i in enumerate(idx):
            row = self._rows[i]
            if seeds[j] is not None or row.np_random is None:
                row.np_random, _ = seeding.np_random(seeds[j])
            row.engine_seed = int(row.np_random.integers(0, SEED_HIGH))
            if frames[j] is not None:
                frame = frames[j]
            elif self.start_frames is not None:
                frame = self.start_frames[int(row.np_random.integers(0, len(self.start_frames)))]
            else:
                raise ValueError(
                    "no start frame: pass reset(options={'start_frames': frames}) or start_frames= when making the env"
                )
            row.start_frame, row.elapsed_steps = frame, 0
            chosen.append(frame)
        sub = self.engine.start(
            np.stack(chosen), [self._rows[i].engine_seed for i in idx], self.num_steps, self.guidance
        )
        self._state = sub if self._state is None else self._state.update(idx, sub)
        for j, i in enumerate(idx):
            self._obs[i] = chosen[j]
            self._done[i] = self._terminated[i] = self._truncated[i] = False
            infos = self._add_info(infos, {"engine_seed": self._rows[i].engine_seed, "chunk_index": 0}, i)
        return infos

    def reset(self, *, seed: int | list | None = None, options: dict | None = None):
        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, int | np.integer):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed list must have num_envs = {self.num_envs} entries, got {len(seeds)}")
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        frames = [None] * self.num_envs
        if "start_frames" in options:
            arr = as_frames(options.pop("start_frames"), self.spec_model, name="options['start_frames']")
            if len(arr) != self.num_envs:
                raise ValueError(f"options['start_frames'] must hold num_envs = {self.num_envs} frames, got {len(arr)}")
            frames = list(arr)
        if "start_frame" in options:
            f = as_frame(options.pop("start_frame"), self.spec_model, name="options['start_frame']")
            frames = [f] * self.num_envs
        if options:
            raise ValueError(
                f"unknown reset options {sorted(options)}; expected 'start_frames', 'start_frame', 'reset_mask'"
            )
        if mask is None:
            idx = np.arange(self.num_envs)
        else:
            mask = np.asarray(mask)
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_ or not mask.any():
                raise ValueError(
                    f"options['reset_mask'] must be a bool array of shape ({self.num_envs},) with at "
                    f"least one True, got {mask!r}"
                )
            if self._state is None and not mask.all():
                raise ValueError("the first reset must reset every sub-env (no reset_mask, or all True)")
            idx = np.flatnonzero(mask)
        infos = self._reset_rows(idx, [seeds[i] for i in idx], [frames[i] for i in idx])
        return self._obs.copy(), infos

    # --- step -----------------------------------------------------------------------------
    def step(self, actions):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        n, cs = self.num_envs, self.spec_model.chunk_size
        acts = as_actions(actions, self.spec_model, batched=True, name="actions")
        if acts.shape[:2] != (n, cs):
            raise ValueError(
                f"actions must have shape (num_envs, chunk_size, action_dim) = ({n}, {cs}, "
                f"{self.spec_model.action_dim}), got {acts.shape}"
            )
        rewards = np.zeros(n)
        terminated = np.zeros(n, bool)
        truncated = np.zeros(n, bool)
        infos: dict = {}
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            to_reset = np.flatnonzero(self._done)
            if len(to_reset):
                infos = self._reset_rows(to_reset, [None] * len(to_reset), [None] * len(to_reset))
            active = np.flatnonzero(~np.isin(np.arange(n), to_reset))
        elif self.autoreset_mode == AutoresetMode.DISABLED:
            active = np.flatnonzero(~self._done)
        else:
            active = np.arange(n)
        frames_out = np.repeat(self._obs[:, None], cs, axis=1)
        if len(active):
            sub = self._state.select(active)
            frames, sub = self.engine.step(sub, acts[active])
            self._state = sub if len(active) == n else self._state.update(active, sub)
            frames_out[active] = frames
            rewards[active] = score_rewards(self.scorer, frames, acts[active])
            for j, i in enumerate(active):
                row = self._rows[i]
                row.elapsed_steps += 1
                success = bool(self.success_fn(frames[j])) if self.success_fn is not None else False
                terminated[i] = success
                # As Gymnasium's TimeLimit: the time limit truncates whether or not the step also terminated.
                truncated[i] = self.max_episode_steps is not None and row.elapsed_steps >= self.max_episode_steps
                self._obs[i] = frames[j, -1]
                infos = self._add_info(
                    infos,
                    {
                        "frames": frames[j],
                        "engine_seed": row.engine_seed,
                        "chunk_index": row.elapsed_steps,
                        "is_success": success,
                    },
                    i,
                )
        if self.autoreset_mode == AutoresetMode.DISABLED:
            terminated |= self._done & self._terminated
            truncated |= self._done & self._truncated
        self._terminated, self._truncated = terminated.copy(), truncated.copy()
        self._done = terminated | truncated
        if self.autoreset_mode == AutoresetMode.SAME_STEP and self._done.any():
            ended = np.flatnonzero(self._done)
            for i in ended:
                final_info = {
                    "frames": frames_out[i],
                    "engine_seed": self._rows[i].engine_seed,
                    "chunk_index": self._rows[i].elapsed_steps,
                    "is_success": bool(terminated[i]),
                }
                infos = self._add_info(infos, {"final_obs": self._obs[i].copy(), "final_info": final_info}, i)
            reset_infos = self._reset_rows(ended, [None] * len(ended), [None] * len(ended))
            for key in ("engine_seed", "chunk_index"):
                if key in reset_infos:
                    infos[key][ended] = reset_infos[key][ended]
            self._done[:] = False
        return self._obs.copy(), rewards, terminated, truncated, infos

    def peek(self, actions) -> np.ndarray:
        """Frames (N, chunk_size, H, W, 3) the chunks ``actions`` (N, chunk_size, A) would give
        every row from here, without advancing (``PerStepVectorAdapter`` closed loop). Every
        row must be live (SAME_STEP autoreset, or no row finished)."""
        if self._state is None:
            raise RuntimeError("call reset() before peek()")
        n, cs = self.num_envs, self.spec_model.chunk_size
        acts = as_actions(actions, self.spec_model, batched=True, name="actions")
        if acts.shape[:2] != (n, cs):
            raise ValueError(f"actions must have shape ({n}, {cs}, {self.spec_model.action_dim}), got {acts.shape}")
        if self._done.any():
            raise RuntimeError("peek needs every row live; rows finished and wait for their reset")
        frames, _ = self.engine.peek(self._state, acts)
        return frames

    def render(self):
        return self._obs.copy()

    # --- per-sub-env attributes ----------------------------------------------------------------
    def get_attr(self, name: str) -> tuple:
        """One value per sub-env: per-row fields (np_random, engine_seed, elapsed_steps,
        start_frame) or the shared attribute repeated."""
        if hasattr(self._rows[0], name):
            return tuple(getattr(r, name) for r in self._rows)
        return tuple(getattr(self, name) for _ in self._rows)

    def set_attr(self, name: str, values) -> None:
        """Set a per-row field (one value each, or one value for all) or a shared attribute."""
        if not isinstance(values, list | tuple):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(f"set_attr needs num_envs = {self.num_envs} values, got {len(values)}")
        if hasattr(self._rows[0], name):
            for r, v in zip(self._rows, values, strict=True):
                setattr(r, name, v)
        else:
            if any(v is not values[0] and v != values[0] for v in values):
                raise ValueError(f"{name!r} is shared by all sub-envs; give one value")
            setattr(self, name, values[0])

    def call(self, name: str, *args, **kwargs) -> tuple:
        """Call a method (or read an attribute) once per sub-env; returns a tuple."""
        if name == "render":
            return tuple(self._obs[i].copy() for i in range(self.num_envs))
        values = self.get_attr(name)
        return tuple(v(*args, **kwargs) if callable(v) else v for v in values)
