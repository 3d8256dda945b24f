"""The :class:`Engine`: load a world model, roll it out (single, batched, chunk by chunk)."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import checkpoints
from .rollout import Rollout, RolloutBatch
from .sampling import chunk_noise, denoise_chunk
from .specs import DEFAULT_SPEC, ModelSpec, get_spec
from .validation import as_actions, as_frame, as_frames, as_guidance, as_num_steps, as_seed, as_seeds

ASSETS_DIR = Path(__file__).parent / "assets"
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _channels_last_conv_weights(module: torch.nn.Module) -> None:
    """Store every Conv3d weight channels-last (NDHWC strides, same values). On CPU, oneDNN
    then skips a weight reorder per call: about 10% of a push-64 decode. Results stay
    deterministic and independent of a row's position in its batch (tested)."""
    for m in module.modules():
        if isinstance(m, torch.nn.Conv3d):
            m.weight.data = m.weight.data.contiguous(memory_format=torch.channels_last_3d)


@dataclass
class EngineState:
    """Where B rollouts stand between chunks (for :meth:`Engine.step`).

    Attributes:
        cond_latents: (B, C, 1, h, w) float32, each row's next conditioning latent.
        last_frames: (B, H, W, 3) uint8, each row's latest frame.
        seeds: per-row seeds; chunk_index: (B,) int64, the next chunk's index per row.
    """

    cond_latents: torch.Tensor
    last_frames: np.ndarray
    seeds: list[int]
    chunk_index: np.ndarray
    num_steps: int
    guidance: float
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.seeds)

    def select(self, rows) -> EngineState:
        """The sub-state of the given row indices."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        return EngineState(
            self.cond_latents[torch.as_tensor(rows)],
            self.last_frames[rows],
            [self.seeds[i] for i in rows],
            self.chunk_index[rows].copy(),
            self.num_steps,
            self.guidance,
        )

    def update(self, rows, sub: EngineState) -> EngineState:
        """A copy of this state with ``rows`` replaced by the rows of ``sub``."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        cond = self.cond_latents.clone()
        cond[torch.as_tensor(rows)] = sub.cond_latents.to(cond.device)
        last = self.last_frames.copy()
        last[rows] = sub.last_frames
        seeds = list(self.seeds)
        idx = self.chunk_index.copy()
        for j, r in enumerate(rows):
            seeds[r] = sub.seeds[j]
            idx[r] = sub.chunk_index[j]
        return EngineState(cond, last, seeds, idx, self.num_steps, self.guidance)


def _auto_device(device) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _auto_dtype(spec: ModelSpec, device: torch.device, dtype) -> torch.dtype:
    if dtype is not None:
        if isinstance(dtype, torch.dtype):
            return dtype
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)} or a torch.dtype, got {dtype!r}")
        return _DTYPES[dtype]
    if spec.dtype != "auto":
        return _DTYPES[spec.dtype] if device.type == "cuda" else torch.float32
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def _move(module, device: torch.device, dtype: torch.dtype):
    module = module.to(device)
    if next(module.parameters()).dtype != dtype:
        module = module.to(dtype)
    return module.eval().requires_grad_(False)


class Engine:
    """A loaded world model.

    Build one with :meth:`Engine.load`. The main calls:

    * :meth:`predict` — start frame (H, W, 3) uint8 + actions (T, A) -> :class:`Rollout`.
    * :meth:`predict_batch` — K action sequences from one start frame -> :class:`RolloutBatch`.
    * :meth:`start` / :meth:`step` — chunk by chunk, for environments.

    Args:
        spec, vae, dit: the spec and its modules (weights loaded).
        device: torch device (default: CUDA if present, else CPU).
        dtype: model dtype (default: bf16 on CUDA, fp32 on CPU).
        max_batch: largest number of rows run through the networks at once; larger K is
            split into micro-batches of this size.
        vae_batch: rows per VAE call.
        exact_batching: pad every VAE call to exactly ``vae_batch`` rows so that a batched
            rollout equals the single ones bit for bit (CPU conv3d kernels depend on the
            batch size). Default: on for CPU, off for CUDA.
    """

    def __init__(
        self,
        spec: ModelSpec,
        vae,
        dit,
        *,
        device=None,
        dtype=None,
        max_batch: int = 32,
        vae_batch: int = 8,
        exact_batching: bool | None = None,
    ) -> None:
        for key, val in (("max_batch", max_batch), ("vae_batch", vae_batch)):
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise ValueError(f"{key} must be a positive int, got {val!r}")
        self.vae_batch = vae_batch
        self.example_frames: np.ndarray | None = None  # (N, H, W, 3) uint8 from the checkpoint, if any
        self.spec = spec
        self.device = _auto_device(device)
        self.dtype = _auto_dtype(spec, self.device, dtype)
        self.max_batch = max_batch
        self.exact_batching = (self.device.type == "cpu") if exact_batching is None else bool(exact_batching)
        self.vae = _move(vae, self.device, self.dtype)
        if self.device.type == "cpu":
            _channels_last_conv_weights(self.vae)
        self.dit = _move(dit, self.device, self.dtype)
        cfg = self.vae.config
        c = spec.latent_channels
        mean = torch.tensor(cfg.latents_mean[:c], dtype=torch.float32).view(1, c, 1, 1, 1)
        std = torch.tensor(cfg.latents_std[:c], dtype=torch.float32).view(1, c, 1, 1, 1)
        self._lat_mean, self._lat_std = mean.to(self.device), std.to(self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = False

    # --- loading --------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        name: str | os.PathLike | ModelSpec | None = None,
        *,
        weights: str | os.PathLike | None = None,
        vae_weights: str | os.PathLike | None = None,
        context: torch.Tensor | None = None,
        device=None,
        dtype=None,
        max_batch: int = 32,
        vae_batch: int = 8,
        exact_batching: bool | None = None,
    ) -> Engine:
        """Load a model, never touching the network.

        name: a catalog spec name (default ``"push-64"``, the embedded model), a
            :class:`ModelSpec`, or a checkpoint directory.
        weights: for specs without built-in weights: our checkpoint directory, or a
            reference DreamDojo checkpoint file (then ``vae_weights`` and ``context`` are
            passed to :func:`engine.checkpoints.import_reference_checkpoint`).
        """
        kw = dict(
            device=device,
            dtype=dtype,
            max_batch=max_batch,
            vae_batch=vae_batch,
            exact_batching=exact_batching,
        )
        if name is None:
            name = DEFAULT_SPEC
        if isinstance(name, os.PathLike) or (isinstance(name, str) and checkpoints.is_checkpoint_dir(name)):
            spec, vae, dit = checkpoints.load_checkpoint(name)
            return cls(spec, vae, dit, **kw)._with_examples(name)
        spec = name if isinstance(name, ModelSpec) else get_spec(name)
        if weights is not None:
            if checkpoints.is_checkpoint_dir(weights):
                _, vae, dit = checkpoints.load_checkpoint(weights, spec)
                return cls(spec, vae, dit, **kw)._with_examples(weights)
            else:
                vae, dit = checkpoints.import_reference_checkpoint(
                    weights, spec, vae_weights=vae_weights, context=context
                )
            return cls(spec, vae, dit, **kw)
        if spec.weights == "random":
            vae, dit = checkpoints.random_modules(spec)
            return cls(spec, vae, dit, **kw)
        if spec.weights and spec.weights.startswith("package:"):
            path = ASSETS_DIR / spec.weights.removeprefix("package:")
            if not checkpoints.is_checkpoint_dir(path):
                raise FileNotFoundError(
                    f"the packaged weights of spec {spec.name!r} are missing: expected a checkpoint directory "
                    f"at {path} (reinstall the package, or retrain with `dreamgym-train`)"
                )
            _, vae, dit = checkpoints.load_checkpoint(path, spec)
            return cls(spec, vae, dit, **kw)._with_examples(path)
        raise FileNotFoundError(
            f"spec {spec.name!r} has no built-in weights: pass weights=PATH, either a dreamgym checkpoint "
            f"directory (holding {checkpoints.SPEC_FILE}, {checkpoints.DIT_FILE}, ...) or the reference "
            f"DreamDojo checkpoint file (.pt/.safetensors) with vae_weights=WAN_VAE_DIR and context=TENSOR"
        )

    def _with_examples(self, path) -> Engine:
        self.example_frames = checkpoints.read_example_frames(path)
        return self

    def save(self, path: str | os.PathLike, meta: dict | None = None) -> Path:
        """Write this engine's model as a checkpoint directory."""
        return checkpoints.save_checkpoint(
            path, self.spec, self.vae.float(), self.dit.float(), meta, example_frames=self.example_frames
        )

    # --- tokenizer ------------------------------------------------------------------------
    def _vae_map(self, fn, x: torch.Tensor) -> torch.Tensor:
        """Apply ``fn`` (a VAE call) over the rows of ``x`` in micro-batches of ``vae_batch``.

        With ``exact_batching`` every call gets exactly ``vae_batch`` rows (the last one padded
        with zeros): CPU conv3d kernels depend on the batch size, but a row's result does not
        depend on its position or on the other rows when the shape is fixed, so any batch
        gives the same bytes per row as a single rollout. Rows are also made contiguous: with
        channels-last weights, a conv's result depends on its input's memory layout.
        """
        n, step = x.shape[0], self.vae_batch
        outs = []
        for lo in range(0, n, step):
            part = x[lo : lo + step].contiguous()
            rows = part.shape[0]
            if self.exact_batching and rows < step:
                part = torch.cat([part, part.new_zeros((step - rows, *part.shape[1:]))])
            outs.append(fn(part)[:rows])
        return torch.cat(outs)

    @torch.no_grad()
    def encode(self, frames: np.ndarray) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> normalised latents (B, C, 1, h, w) float32."""
        # torch.from_numpy wants a writeable array: frames from a PIL image or a memory map are copied
        x = torch.from_numpy(np.require(frames, requirements=("C", "W"))).to(self.device)
        x = x.permute(0, 3, 1, 2).unsqueeze(2).to(self.dtype) / 127.5 - 1.0
        z = self._vae_map(lambda p: self.vae.encode(p).latent_dist.mode().float(), x)
        return (z - self._lat_mean) / self._lat_std

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Normalised latents (B, C, F, h, w) -> frames (B, 1 + tf * (F - 1), H, W, 3) uint8."""
        z = (latents.float() * self._lat_std + self._lat_mean).to(self.dtype)
        x = self._vae_map(lambda p: self.vae.decode(p).sample.float(), z).clamp(-1, 1)
        x = ((x + 1.0) * 127.5).round().to(torch.uint8)
        return x.permute(0, 2, 3, 4, 1).cpu().numpy()

    # --- the chunk loop -------------------------------------------------------------------
    def _chunk(
        self,
        cond: torch.Tensor,
        actions: np.ndarray,
        seeds: list[int],
        chunk_idx,
        num_steps: int,
        guidance: float,
        timings: dict,
    ):
        """One chunk for B rows: returns frames (B, chunk, H, W, 3) uint8 and the next cond."""
        spec = self.spec
        h, w = spec.latent_size
        shape = (spec.latent_channels, spec.latent_frames_per_chunk, h, w)
        t0 = time.perf_counter()
        noise = chunk_noise(seeds, [int(c) for c in chunk_idx], shape)
        act = torch.from_numpy(actions).to(self.device)
        t1 = time.perf_counter()
        lat = denoise_chunk(
            self.dit,
            cond,
            act,
            noise,
            num_steps=num_steps,
            guidance=guidance,
            shift=spec.shift,
            sigma_max=spec.sigma_max,
        )
        t2 = time.perf_counter()
        frames = self.decode(lat)[:, 1:]
        t3 = time.perf_counter()
        if spec.handoff == "pixel":
            nxt = self.encode(frames[:, -1])
        else:
            nxt = lat[:, :, -1:].clone()
        t4 = time.perf_counter()
        for k, v in (("noise", t1 - t0), ("denoise", t2 - t1), ("decode", t3 - t2), ("handoff", t4 - t3)):
            timings[k] = timings.get(k, 0.0) + v
        return frames, nxt

    # --- public calls ---------------------------------------------------------------------
    def predict(
        self, start_frame, actions, seed: int = 0, num_steps: int | None = None, guidance: float | None = None
    ) -> Rollout:
        """Roll out one action sequence.

        start_frame: (H, W, 3) uint8 (or a PIL image). actions: (T, action_dim) float32,
        T a positive multiple of ``chunk_size``. Returns a :class:`Rollout` with T frames.
        """
        frame = as_frame(start_frame, self.spec)
        acts = as_actions(actions, self.spec)
        seed = as_seed(seed)
        batch = self._predict(frame, acts[None], [seed], num_steps, guidance)
        return batch[0]

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
        list gives one seed per candidate. Candidate k equals ``predict(actions[k], seed)``
        bit for bit on CPU. The start frame is encoded once; K is split into micro-batches
        of ``max_batch``.
        """
        frame = as_frame(start_frame, self.spec)
        acts = as_actions(actions, self.spec, batched=True)
        seeds = as_seeds(seed, acts.shape[0])
        return self._predict(frame, acts, seeds, num_steps, guidance)

    def _predict(self, frame: np.ndarray, acts: np.ndarray, seeds: list[int], num_steps, guidance) -> RolloutBatch:
        num_steps = as_num_steps(num_steps, self.spec)
        guidance = as_guidance(guidance, self.spec)
        t_start = time.perf_counter()
        timings: dict[str, float] = {}
        cond0 = self.encode(frame[None])
        timings["encode"] = time.perf_counter() - t_start
        k, t, _ = acts.shape
        cs = self.spec.chunk_size
        out = np.empty((k, t, *self.spec.resolution, 3), dtype=np.uint8)
        for lo in range(0, k, self.max_batch):
            hi = min(lo + self.max_batch, k)
            cond = cond0.expand(hi - lo, -1, -1, -1, -1)
            for c in range(t // cs):
                frames, cond = self._chunk(
                    cond,
                    acts[lo:hi, c * cs : (c + 1) * cs],
                    seeds[lo:hi],
                    [c] * (hi - lo),
                    num_steps,
                    guidance,
                    timings,
                )
                out[lo:hi, c * cs : (c + 1) * cs] = frames
        wall = time.perf_counter() - t_start
        timings["total"] = wall
        per_ms = 1000.0 * wall / k
        rollouts = [
            Rollout(
                frames=out[i],
                start_frame=frame,
                actions=acts[i],
                seed=seeds[i],
                spec_name=self.spec.name,
                request_id=uuid.uuid4().hex,
                num_steps=num_steps,
                guidance=guidance,
                fps=self.spec.fps,
                engine_wall_ms=per_ms,
                timings=timings,
            )
            for i in range(k)
        ]
        return RolloutBatch(rollouts, wall_s=wall, timings=timings)

    def start(
        self,
        start_frames,
        seeds: int | list[int] = 0,
        num_steps: int | None = None,
        guidance: float | None = None,
    ) -> EngineState:
        """Begin B rollouts from start frames (B, H, W, 3) uint8; one seed or one per row."""
        frames = as_frames(start_frames, self.spec)
        seeds = as_seeds(seeds, frames.shape[0], name="seeds")
        num_steps = as_num_steps(num_steps, self.spec)
        guidance = as_guidance(guidance, self.spec)
        cond = self.encode(frames)
        return EngineState(cond, frames.copy(), seeds, np.zeros(len(seeds), dtype=np.int64), num_steps, guidance)

    def step(self, state: EngineState, action_chunks) -> tuple[np.ndarray, EngineState]:
        """Advance every row of ``state`` by one chunk.

        action_chunks: (B, chunk_size, action_dim) float32. Returns frames
        (B, chunk_size, H, W, 3) uint8 and the new state (the old one is not modified).
        Row b's chunk c uses the same noise as chunk c of ``predict(..., seed=seeds[b])``.
        """
        if not isinstance(state, EngineState):
            raise TypeError(f"state must be an EngineState from Engine.start, got {type(state).__name__}")
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
        timings: dict[str, float] = {}
        outs, conds = [], []
        for lo in range(0, len(state), self.max_batch):
            hi = min(lo + self.max_batch, len(state))
            frames, nxt = self._chunk(
                state.cond_latents[lo:hi],
                acts[lo:hi],
                state.seeds[lo:hi],
                state.chunk_index[lo:hi],
                state.num_steps,
                state.guidance,
                timings,
            )
            outs.append(frames)
            conds.append(nxt)
        frames = np.concatenate(outs)
        new = EngineState(
            torch.cat(conds),
            frames[:, -1].copy(),
            list(state.seeds),
            state.chunk_index + 1,
            state.num_steps,
            state.guidance,
            {"timings": timings},
        )
        return frames, new
