"""The :class:`Engine`: load a world model, roll it out (single, batched, chunk by chunk)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import checkpoints
from .loading import load_modules, prepare_modules, resolve_device, resolve_dtype
from .parallel import row_pool
from .protocol import BaseEngine, RolloutState, per_row
from .rollout import RolloutBatch
from .row_dit import RowDiT
from .sampling import chunk_noise, denoise_chunk
from .specs import ModelSpec
from .tokenizer import Tokenizer
from .validation import as_actions, as_frame, as_int, as_seeds


@dataclass(kw_only=True)
class EngineState(RolloutState):
    """Where B rollouts of an :class:`Engine` stand between chunks (for :meth:`Engine.step`).

    Attributes (besides :class:`~engine.protocol.RolloutState`'s):
        cond_latents: (B, C, 1, h, w) float32, each row's next conditioning latent.
    """

    cond_latents: torch.Tensor = per_row()


START_CACHE_SIZE = 64  # start-frame latents kept per engine (push-64: 16 KiB each; GR-1: 300 KiB)


class Engine(BaseEngine):
    """A loaded world model.

    Build one with :meth:`Engine.load`. The main calls:

    * :meth:`predict` — start frame (H, W, 3) uint8 + actions (T, A) -> :class:`Rollout`.
    * :meth:`predict_batch` — K action sequences from one start frame -> :class:`RolloutBatch`.
    * :meth:`start` / :meth:`step` — chunk by chunk, for environments.

    Execution. In the deterministic mode (the CPU default) every row of a call is computed
    alone, with shapes that do not depend on the batch, on a row worker pinned to one
    intra-op thread (:mod:`engine.parallel`); rows run side by side on ``threads`` workers.
    A row's bytes then depend only on its own inputs: not on the other rows, on ``max_batch``,
    on ``threads`` or on ``torch.set_num_threads``. With ``deterministic=False`` (the CUDA
    default) rows go through the networks together in micro-batches, faster on a GPU, with no
    such guarantee.

    Threads. An engine may be called from several threads at once; each call's results
    equal those of the same call made alone. Calls share the weights (read-only) and the
    row workers; every call keeps its own sampler, noise and VAE feature cache.

    Args:
        spec, vae, dit: the spec and its modules (weights loaded).
        device: torch device (default: CUDA if present, else CPU).
        dtype: model dtype (default: bf16 on CUDA, fp32 on CPU). Under bf16/fp16 the time
            embedding, the adaLN modulations and the DiT's final layer stay fp32, as in the
            reference.
        max_batch: with ``deterministic=False``, the largest number of rows run through the
            networks at once (larger K is split into micro-batches of this size).
        vae_batch: rows per VAE call. The deterministic mode pads every call to exactly this
            many rows, so its bytes depend on it (default 4: on push-64 the cheapest per row
            at one thread, and a single row costs no more than a padded tile).
        deterministic: compute row by row on pinned workers (see above). Default: True on
            CPU, False on CUDA.
        threads: row workers of the deterministic mode on CPU (default: ``torch.get_num_threads()``
            when the engine is made). Results do not depend on it.
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
        vae_batch: int = 4,
        deterministic: bool | None = None,
        threads: int | None = None,
    ) -> None:
        max_batch = as_int(max_batch, "max_batch", low=1, high=4096)
        vae_batch = as_int(vae_batch, "vae_batch", low=1, high=256)
        if threads is not None:
            threads = as_int(threads, "threads", low=1, high=1024)
        if deterministic is not None and not isinstance(deterministic, bool):
            raise TypeError(f"deterministic must be a bool or None, got {type(deterministic).__name__}")
        self.vae_batch = vae_batch
        self.example_frames: np.ndarray | None = None  # (N, H, W, 3) uint8 from the checkpoint, if any
        self.spec = spec
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(spec, self.device, dtype)
        self.max_batch = max_batch
        self.deterministic = (self.device.type == "cpu") if deterministic is None else deterministic
        self.threads = threads or torch.get_num_threads()
        self.vae, self.dit = prepare_modules(vae, dit, self.device, self.dtype)
        self.tokenizer = Tokenizer(
            self.vae,
            spec,
            device=self.device,
            dtype=self.dtype,
            tile=vae_batch,
            pad=self.deterministic,
            map_spans=self._map_spans,
        )
        self._start_cache: OrderedDict[bytes, torch.Tensor] = OrderedDict()
        self._start_cache_lock = threading.Lock()
        self._weights_sha256: str | None = None
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = False
        with torch.no_grad():  # a constant of the weights; computed where the rows are
            context_kv = self._map_spans(lambda lo, hi: self.dit.context_kv(), 1, 1)[0]
        # one-row calls replay a traced graph (same bits as eager, without the GIL)
        self._denoiser = RowDiT(self.dit, context_kv, enabled=self.deterministic and self.device.type == "cpu")

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
        vae_batch: int = 4,
        deterministic: bool | None = None,
        threads: int | None = None,
    ) -> Engine:
        """Load a model, never touching the network.

        name: a catalog spec name (default ``"push-64"``, the embedded model), a
            :class:`ModelSpec`, or a checkpoint directory.
        weights: for specs without built-in weights: our checkpoint directory, or a
            reference DreamDojo checkpoint file (then ``vae_weights`` and ``context`` are
            passed to :func:`engine.reference.import_reference_checkpoint`).
        """
        resolve_device(device)  # a device this machine lacks is named before any weights load
        kw = dict(
            device=device,
            dtype=dtype,
            max_batch=max_batch,
            vae_batch=vae_batch,
            deterministic=deterministic,
            threads=threads,
        )
        spec, vae, dit, examples = load_modules(name, weights=weights, vae_weights=vae_weights, context=context)
        engine = cls(spec, vae, dit, **kw)
        engine.example_frames = examples
        return engine

    def save(self, path: str | os.PathLike, meta: dict | None = None) -> Path:
        """Write this engine's model as a checkpoint directory."""
        frames = self.example_frames
        return checkpoints.save_checkpoint(path, self.spec, self.vae, self.dit, meta, example_frames=frames)

    def weights_sha256(self) -> str:
        """sha256 over the model's parameters and buffers (names in sorted order, then each
        tensor's bytes): what a bulk receipt records to tie a rollout to its weights."""
        if self._weights_sha256 is None:
            h = hashlib.sha256()
            for prefix, module in (("vae.", self.vae), ("dit.", self.dit)):
                state = module.state_dict()
                for name in sorted(state):
                    t = state[name].detach().to("cpu").contiguous()
                    h.update((prefix + name + str(tuple(t.shape)) + str(t.dtype)).encode())
                    h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
            self._weights_sha256 = h.hexdigest()
        return self._weights_sha256

    def parameter_count(self) -> int:
        """Parameters of the VAE and the DiT together."""
        return sum(p.numel() for m in (self.vae, self.dit) for p in m.parameters())

    @property
    def latents(self):
        """The :class:`~engine.tokenizer.LatentNormalizer` (VAE latent mean and 1/std)."""
        return self.tokenizer.latents

    # --- row execution -------------------------------------------------------------------
    def _map_spans(self, fn, n: int, size: int) -> list:
        """Run ``fn(lo, hi)`` over consecutive spans of ``size`` rows of [0, n) and return the
        results in row order: on the pinned row workers (deterministic CPU) or in this thread."""
        spans = [(lo, min(lo + size, n)) for lo in range(0, n, size)]
        if self.deterministic and self.device.type == "cpu":
            return row_pool(self.threads).map(lambda span: fn(*span), spans)
        return [fn(lo, hi) for lo, hi in spans]

    # --- tokenizer ------------------------------------------------------------------------
    def _encode_start(self, frame: np.ndarray) -> torch.Tensor:
        """The (1, C, 1, h, w) latent of a start frame (see :meth:`_encode_starts`)."""
        return self._encode_starts(frame[None])

    def _encode_starts(self, frames: np.ndarray) -> torch.Tensor:
        """Latents (B, C, 1, h, w) of start frames (B, H, W, 3), through a small cache keyed by
        each frame's bytes (a planner or a server rolls out from the same frame many times);
        the misses are encoded together. A row's latent does not depend on its tile mates in
        the deterministic mode, so a cached latent has the bits of a fresh one."""
        keys = [hashlib.sha256(f.tobytes()).digest() + repr(f.shape).encode() for f in frames]
        found: dict[bytes, torch.Tensor] = {}
        with self._start_cache_lock:
            for key in keys:
                hit = self._start_cache.get(key)
                if hit is not None:
                    self._start_cache.move_to_end(key)
                    found[key] = hit
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            latents = self.encode(np.stack([frames[first[k]] for k in missing]))
            with self._start_cache_lock:
                for j, key in enumerate(missing):
                    found[key] = latents[j : j + 1].clone()
                    self._start_cache[key] = found[key]
                while len(self._start_cache) > START_CACHE_SIZE:
                    self._start_cache.popitem(last=False)
        return torch.cat([found[k] for k in keys])

    def encode(self, frames: np.ndarray) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> normalised latents (B, C, 1, h, w) float32 (:class:`Tokenizer`)."""
        return self.tokenizer.encode(frames)

    def encode_still(self, frames: np.ndarray) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> latents (B, C, F, h, w) of each frame held still for a chunk
        (:meth:`Tokenizer.encode_still`): what a goal looks like to a latent scorer."""
        return self.tokenizer.encode_still(frames)

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Normalised latents (B, C, F, h, w) -> frames (B, 1 + tf * (F - 1), H, W, 3) uint8."""
        return self.tokenizer.decode(latents)

    # --- the chunk loop -------------------------------------------------------------------
    @torch.no_grad()
    def _sample(self, cond, actions, seeds, chunk_idx, num_steps: int, guidance: float) -> torch.Tensor:
        """One chunk's latents (B, C, F, h, w) float32 for the given rows, in this thread."""
        spec = self.spec
        h, w = spec.latent_size
        shape = (spec.latent_channels, spec.latent_frames_per_chunk, h, w)
        noise = chunk_noise(seeds, [int(c) for c in chunk_idx], shape, scheme=spec.noise, chunk_size=spec.chunk_size)
        return denoise_chunk(
            self._denoiser,
            cond.contiguous(),
            torch.from_numpy(np.ascontiguousarray(actions)).to(self.device),
            noise,
            num_steps=num_steps,
            guidance=guidance,
            shift=spec.shift,
            sigma_max=spec.sigma_max,
            keep_sampled_start=spec.decode_start_latent == "sampled",
        )

    def _chunk(
        self,
        cond,
        actions,
        seeds,
        chunk_idx,
        num_steps: int,
        guidance: float,
        timings: dict,
        handoff: bool = True,
        decode: bool = True,
    ):
        """One chunk for B rows: returns frames (B, chunk, H, W, 3) uint8 and the next cond
        (or, with ``decode=False`` on a last chunk, the chunk's latents (B, C, F, h, w) and None).

        The DiT runs one row per call in deterministic mode (its matmuls then have the same
        shapes whatever B is), ``max_batch`` rows per call otherwise; decoding and the pixel
        handoff go through the :class:`Tokenizer` tiles."""

        def sample(lo, hi):
            return self._sample(cond[lo:hi], actions[lo:hi], seeds[lo:hi], chunk_idx[lo:hi], num_steps, guidance)

        t0 = time.perf_counter()
        lat = torch.cat(self._map_spans(sample, len(seeds), 1 if self.deterministic else self.max_batch))
        t1 = time.perf_counter()
        if not decode:  # a latent scorer reads the last chunk: nothing to decode, nothing follows
            timings["denoise"] = timings.get("denoise", 0.0) + t1 - t0
            return lat, None
        frames = self.decode(lat)[:, 1:]
        t2 = time.perf_counter()
        if not handoff:  # the last chunk of a rollout: nothing follows it
            nxt = None
        elif self.spec.handoff == "pixel":
            nxt = self.encode(frames[:, -1])
        else:
            nxt = lat[:, :, -1:].clone()
        t3 = time.perf_counter()
        for k, v in (("denoise", t1 - t0), ("decode", t2 - t1), ("handoff", t3 - t2)):
            timings[k] = timings.get(k, 0.0) + v
        return frames, nxt

    # --- the contract's calls (checked by BaseEngine) ------------------------------------
    state_type = EngineState

    def _rollout(self, frame, acts, seeds, num_steps, guidance, timings: dict, decode_last: bool = True):
        """Frames (K, T, H, W, 3) uint8 of every chunk (the last one's left empty when not
        ``decode_last``) and the last chunk's latents (or None when it was decoded)."""
        t_start = time.perf_counter()
        cond0 = self._encode_start(frame)
        timings["encode"] = time.perf_counter() - t_start
        k, t, _ = acts.shape
        cs = self.spec.chunk_size
        out = np.empty((k, t, *self.spec.resolution, 3), dtype=np.uint8)
        cond = cond0.expand(k, -1, -1, -1, -1)
        chunks = t // cs
        for c in range(chunks):
            chunk_acts = acts[:, c * cs : (c + 1) * cs]
            last = c == chunks - 1
            decode = decode_last or not last
            frames, cond = self._chunk(cond, chunk_acts, seeds, [c] * k, num_steps, guidance, timings, not last, decode)
            if not decode:
                return out, frames
            out[:, c * cs : (c + 1) * cs] = frames
        return out, None

    def predict_latents(self, start_frame, actions, seed=0, num_steps=None, guidance=None) -> torch.Tensor:
        """Roll out K action sequences (K, T, A) like :meth:`predict_batch` and return the last
        chunk's normalised latents (K, C, F, h, w) float32 without decoding them (the earlier
        chunks are decoded for the pixel handoff). Row k holds the latents ``predict_batch``
        would decode into its last chunk (the same bits: the engine's rows are independent)."""
        frame = as_frame(start_frame, self.spec)
        acts = as_actions(actions, self.spec, batched=True)
        frame, acts, seeds, ns, g = self._checked(frame, acts, as_seeds(seed, acts.shape[0]), num_steps, guidance)
        _, latents = self._rollout(frame, acts, seeds, ns, g, {}, decode_last=False)
        return latents

    def _predict(self, frame: np.ndarray, acts: np.ndarray, seeds: list[int], num_steps, guidance) -> RolloutBatch:
        t_start = time.perf_counter()
        timings: dict[str, float] = {}
        out, _ = self._rollout(frame, acts, seeds, num_steps, guidance, timings)
        wall = time.perf_counter() - t_start
        timings["total"] = wall
        return RolloutBatch(
            out,
            frame,
            acts,
            seeds,
            spec_name=self.spec.name,
            num_steps=num_steps,
            guidance=guidance,
            fps=self.spec.fps,
            wall_s=wall,
            timings=timings,
        )

    def _start(self, frames: np.ndarray, seeds: list[int], num_steps: int, guidance: float) -> EngineState:
        cond = self._encode_starts(frames)
        return EngineState.first(frames, seeds, num_steps, guidance, cond_latents=cond)

    def _step(self, state: EngineState, acts: np.ndarray, peek: bool) -> tuple[np.ndarray, EngineState]:
        timings: dict[str, float] = {}
        frames, cond = self._chunk(
            state.cond_latents, acts, state.seeds, state.chunk_index, state.num_steps, state.guidance, timings, not peek
        )
        if peek:  # nothing advances, so the next chunk's conditioning is not needed
            return frames, state
        return frames, state.advanced(frames, {"timings": timings}, cond_latents=cond)
