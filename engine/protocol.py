"""The engine contract: what every caller (envs, planners, serving, bulk) codes against.

Three things live here:

* :class:`RolloutModel` — the least a planner needs: ``spec`` and ``predict_batch``.
* :class:`WorldModel` — the whole engine surface: ``spec``, ``example_frames``, ``predict``,
  ``predict_batch``, ``start`` / ``step`` / ``peek`` (chunk by chunk, for envs),
  ``weights_sha256`` and ``runs_in_process``. :class:`~engine.Engine`,
  :class:`~engine.RemoteEngine` and each world's exact model (e.g.
  :class:`dreamgym.toyworld.ToyWorldModel`) implement it, and one conformance suite tests
  all three (``tests/test_engine_contract.py``).
* :class:`BaseEngine` — the one validation front those implementations share: it checks every
  argument at the boundary (with the messages of :mod:`engine.validation`) and hands checked
  arrays to the subclass's ``_predict`` / ``_start`` / ``_step``. :class:`RolloutState` is the
  shared base of their per-row states (``select`` / ``update`` / ``concat`` written once).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from .rollout import Rollout, RolloutBatch
from .specs import ModelSpec
from .validation import (
    as_actions,
    as_frame,
    as_frames,
    as_guidance,
    as_num_steps,
    as_seed,
    as_seeds,
    check_noise_range,
)


@runtime_checkable
class RolloutModel(Protocol):
    """What a planner rolls candidates out on.

    ``spec``: the :class:`~engine.ModelSpec` (resolution, chunk_size, action_dim, bounds).
    ``predict_batch(start_frame (H, W, 3) uint8, actions (K, T, A) float32, seed=0)`` returns a
    :class:`~engine.RolloutBatch` of K rollouts of T frames.
    """

    spec: ModelSpec

    def predict_batch(self, start_frame, actions, seed=0, num_steps=None, guidance=None) -> RolloutBatch: ...


@runtime_checkable
class WorldModel(RolloutModel, Protocol):
    """The engine contract (see the module docstring).

    Attributes:
        spec: the model's :class:`~engine.ModelSpec`.
        example_frames: (N, H, W, 3) uint8 start frames shipped with the model, or None.
        runs_in_process: True when calls compute in this process (a caller may batch rows
            itself, e.g. through :class:`engine.batching.Scheduler`); False for a client whose
            server batches (send requests concurrently instead).

    ``step(state, action_chunks (B, chunk_size, A))`` returns frames (B, chunk_size, H, W, 3)
    uint8 and a new state; ``peek`` returns the same frames and the state unchanged. Neither
    modifies ``state``.
    """

    example_frames: np.ndarray | None
    runs_in_process: bool

    def predict(self, start_frame, actions, seed=0, num_steps=None, guidance=None) -> Rollout: ...

    def start(self, start_frames, seeds=0, num_steps=None, guidance=None): ...

    def step(self, state, action_chunks) -> tuple[np.ndarray, object]: ...

    def peek(self, state, action_chunks) -> tuple[np.ndarray, object]: ...

    def weights_sha256(self) -> str | None: ...


@runtime_checkable
class LatentRolloutModel(RolloutModel, Protocol):
    """A :class:`RolloutModel` whose rollouts can end in latent space, for scorers that read
    latents (``scorer.reads == "latents"``, e.g. :class:`~engine.scoring.LatentGoalDistance`):
    the last chunk is then never decoded.

    ``encode_still(frames (B, H, W, 3) uint8) -> (B, C, F, h, w)`` float32 normalised latents of
    each frame held still for a chunk (what a goal looks like next to a predicted chunk);
    ``predict_latents(start_frame, actions (K, T, A), seed) -> (K, C, F, h, w)`` float32, the
    last chunk's normalised latents (frame 0 the chunk's conditioning frame), the same values
    ``predict_batch`` decodes.
    """

    def encode_still(self, frames): ...

    def predict_latents(self, start_frame, actions, seed=0, num_steps=None, guidance=None): ...


def per_row(**kw):
    """A :class:`RolloutState` field with one entry per row (a tensor, an array or a list)."""
    return field(metadata={"per_row": True}, **kw)


def _take(value, idx: np.ndarray):
    if isinstance(value, torch.Tensor):
        return value[torch.as_tensor(idx)]
    if isinstance(value, np.ndarray):
        return value[idx]
    return [value[i] for i in idx]


def _put(value, idx: np.ndarray, sub):
    if isinstance(value, torch.Tensor):
        out = value.clone()
        out[torch.as_tensor(idx)] = sub.to(out.device)
        return out
    if isinstance(value, np.ndarray):
        out = value.copy()
        out[idx] = sub
        return out
    out = list(value)
    for j, r in enumerate(idx):
        out[r] = sub[j]
    return out


def _cat(values: list):
    if isinstance(values[0], torch.Tensor):
        return torch.cat(values)
    if isinstance(values[0], np.ndarray):
        return np.concatenate(values)
    return [v for part in values for v in part]


@dataclass(kw_only=True)
class RolloutState:
    """Base of the per-row rollout states of every engine (subclasses add their own fields,
    e.g. the conditioning latents of :class:`~engine.EngineState`).

    Attributes:
        last_frames: (B, H, W, 3) uint8, each row's latest frame.
        seeds: per-row seeds. chunk_index: (B,) int64, the next chunk's index per row.
        num_steps, guidance: the sampler settings, shared by all rows.
        extra: per-call notes such as timings (never carried into a new state).

    Fields made with :func:`per_row` hold one entry per row; every other field except
    ``extra`` is shared by all rows. Construct with keywords.
    """

    last_frames: np.ndarray = per_row()
    seeds: list[int] = per_row()
    chunk_index: np.ndarray = per_row()
    num_steps: int
    guidance: float
    extra: dict = field(default_factory=dict)

    @classmethod
    def first(cls, frames: np.ndarray, seeds: list[int], num_steps: int, guidance: float, **fields_):
        """The state of B rollouts starting from ``frames`` (B, H, W, 3): chunk 0 everywhere."""
        zeros = np.zeros(len(seeds), dtype=np.int64)
        return cls(
            last_frames=frames.copy(),
            seeds=list(seeds),
            chunk_index=zeros,
            num_steps=num_steps,
            guidance=guidance,
            **fields_,
        )

    def advanced(self, frames: np.ndarray, extra: dict | None = None, **changes):
        """The state after one chunk whose frames are ``frames`` (B, chunk_size, H, W, 3):
        the next chunk index, the chunk's last frames, and ``changes`` to other fields."""
        return replace(
            self,
            last_frames=frames[:, -1].copy(),
            seeds=list(self.seeds),
            chunk_index=self.chunk_index + 1,
            extra=extra or {},
            **changes,
        )

    def __len__(self) -> int:
        return len(self.seeds)

    def _fields(self):
        for f in fields(self):
            if f.name != "extra":
                yield f, bool(f.metadata.get("per_row"))

    def select(self, rows):
        """The sub-state of the given row indices."""
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        return type(self)(
            **{f.name: _take(getattr(self, f.name), idx) if pr else getattr(self, f.name) for f, pr in self._fields()}
        )

    def update(self, rows, sub):
        """A copy of this state with ``rows`` replaced by the rows of ``sub``."""
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        return type(self)(
            **{
                f.name: _put(getattr(self, f.name), idx, getattr(sub, f.name)) if pr else getattr(self, f.name)
                for f, pr in self._fields()
            }
        )

    @classmethod
    def concat(cls, states: list):
        """The rows of several states, in order, as one state (they must agree on every shared
        field, e.g. num_steps and guidance)."""
        if not states:
            raise ValueError(f"concat needs at least one {cls.__name__}")
        first = states[0]
        kw = {}
        for f, pr in first._fields():
            if pr:
                kw[f.name] = _cat([getattr(s, f.name) for s in states])
                continue
            kw[f.name] = getattr(first, f.name)
        shared = [f.name for f, pr in first._fields() if not pr]
        for s in states[1:]:
            if any(getattr(s, n) != getattr(first, n) for n in shared):
                mine = ", ".join(str(getattr(first, n)) for n in shared)
                theirs = ", ".join(str(getattr(s, n)) for n in shared)
                raise ValueError(f"states to concat must share {', '.join(shared)}: got ({mine}) and ({theirs})")
        return cls(**kw)


class BaseEngine:
    """The validation front shared by every :class:`WorldModel` implementation.

    Subclasses set ``spec`` and ``state_type`` and implement, on checked inputs:

    * ``_predict(frame (H, W, 3) uint8, actions (K, T, A) float32, seeds list[int], num_steps
      int, guidance float) -> RolloutBatch``;
    * ``_start(frames (B, H, W, 3) uint8, seeds, num_steps, guidance) -> state``;
    * ``_step(state, action_chunks (B, chunk_size, A) float32, peek: bool) -> (frames, state)``.

    Every check runs here, before any model work, with messages that name the expected and the
    received value.
    """

    spec: ModelSpec
    state_type: type = RolloutState
    runs_in_process: bool = True

    def predict(self, start_frame, actions, seed: int = 0, num_steps: int | None = None, guidance: float | None = None):
        """Roll out one action sequence.

        start_frame: (H, W, 3) uint8 (or a PIL image). actions: (T, action_dim) float32,
        T a positive multiple of ``chunk_size``. Returns a :class:`~engine.Rollout` with T frames.
        """
        frame = as_frame(start_frame, self.spec)
        acts = as_actions(actions, self.spec)
        return self._checked_predict(frame, acts[None], [as_seed(seed)], num_steps, guidance)[0]

    def predict_batch(
        self,
        start_frame,
        actions,
        seed: int | list[int] = 0,
        num_steps: int | None = None,
        guidance: float | None = None,
    ) -> RolloutBatch:
        """Roll out K action sequences (K, T, action_dim) from one start frame.

        All candidates share ``seed`` by default (so scores compare actions, not noise); a
        list gives one seed per candidate. Returns a :class:`~engine.RolloutBatch` of K.
        """
        frame = as_frame(start_frame, self.spec)
        acts = as_actions(actions, self.spec, batched=True)
        return self._checked_predict(frame, acts, as_seeds(seed, acts.shape[0]), num_steps, guidance)

    def _checked(self, frame, acts, seeds, num_steps, guidance) -> tuple:
        """(frame, acts, seeds, num_steps, guidance) with the step count, guidance and noise
        range checked."""
        ns = as_num_steps(num_steps, self.spec)
        g = as_guidance(guidance, self.spec)
        check_noise_range(self.spec, seeds, [acts.shape[1] // self.spec.chunk_size - 1] * len(seeds))
        return frame, acts, seeds, ns, g

    def _checked_predict(self, frame, acts, seeds, num_steps, guidance) -> RolloutBatch:
        return self._predict(*self._checked(frame, acts, seeds, num_steps, guidance))

    def start(self, start_frames, seeds: int | list[int] = 0, num_steps: int | None = None, guidance=None):
        """Begin B rollouts from start frames (B, H, W, 3) uint8; one seed or one per row."""
        frames = as_frames(start_frames, self.spec)
        seeds = as_seeds(seeds, frames.shape[0], name="seeds")
        return self._start(frames, seeds, as_num_steps(num_steps, self.spec), as_guidance(guidance, self.spec))

    def step(self, state, action_chunks):
        """Advance every row of ``state`` by one chunk.

        action_chunks: (B, chunk_size, action_dim) float32. Returns frames
        (B, chunk_size, H, W, 3) uint8 and the new state (the old one is not modified). Row
        b's chunk c uses the same noise as chunk c of ``predict(..., seed=seeds[b])``.
        """
        return self._step(state, self._chunks_for(state, action_chunks), False)

    def peek(self, state, action_chunks):
        """The frames :meth:`step` would give, and ``state`` itself (nothing advances)."""
        return self._step(state, self._chunks_for(state, action_chunks), True)

    def _chunks_for(self, state, action_chunks) -> np.ndarray:
        if not self._owns(state):
            raise TypeError(
                f"state must be a {self.state_type.__name__} from this {type(self).__name__}'s start, "
                f"got {type(state).__name__}"
            )
        acts = as_actions(action_chunks, self.spec, batched=True, name="action_chunks")
        if acts.shape[0] != len(state):
            raise ValueError(
                f"action_chunks must have one chunk per row: expected B = {len(state)}, got {acts.shape[0]}"
            )
        if acts.shape[1] != self.spec.chunk_size:
            raise ValueError(
                f"action_chunks must hold exactly one chunk: expected shape (B, {self.spec.chunk_size}, "
                f"{self.spec.action_dim}), got {acts.shape}"
            )
        check_noise_range(self.spec, state.seeds, state.chunk_index)
        return acts

    def _owns(self, state) -> bool:
        """Whether ``state`` is one this engine can advance."""
        return isinstance(state, self.state_type)

    def weights_sha256(self) -> str | None:
        """sha256 that ties a rollout to the weights (or the simulator) that made it."""
        raise NotImplementedError

    # implemented by subclasses
    def _predict(self, frame, acts, seeds, num_steps, guidance) -> RolloutBatch:
        raise NotImplementedError

    def _start(self, frames, seeds, num_steps, guidance):
        raise NotImplementedError

    def _step(self, state, acts, peek: bool):
        raise NotImplementedError


__all__ = ["BaseEngine", "LatentRolloutModel", "RolloutModel", "RolloutState", "WorldModel", "per_row"]
