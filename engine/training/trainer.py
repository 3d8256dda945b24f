"""Training a world model of the engine's family from arrays of frames and actions.

Three phases, each resumable from ``<out>/state_<phase>.pt`` (plain tensors, reloaded with
``torch.load(weights_only=True)``):

1. ``vae`` — the Wan VAE on the clips inference sees (start frame + one chunk) with an MSE loss
   that weighs non-background pixels more (the objects are small), plus a tiny KL term.
   Afterwards the per-channel latent mean/std are measured and stored in the VAE config.
2. ``latents`` — every training clip (start frame + one chunk) is encoded exactly as
   inference sees it: latent frame 0 is the start frame, the rest are the chunk.
3. ``dit`` — the action-conditioned DiT with the rectified-flow objective: sigma drawn
   through the sampler's shift, ``x = (1 - sigma) x0 + sigma * eps``, target
   ``eps - x0``; latent frame 0 stays clean and is marked in the condition mask, exactly as
   the sampler imposes it; the loss covers the generated frames only. An EMA of the
   weights is what gets saved.

The data: ``frames`` (N, L+1, H, W, 3) uint8 and ``actions`` (N, L, A) float32 (an .npz
file with those keys, e.g. written by ``python -m dreamgym.toyworld.episodes``).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..checkpoints import save_checkpoint
from ..files import atomic_write_bytes
from ..networks import ActionConditionedDiT, build_vae
from ..specs import ModelSpec
from ..tokenizer import LatentNormalizer

PRECISIONS = ("fp32", "bf16")


def autocast(precision: str, device_type: str = "cpu"):
    """The forward passes' autocast context: bf16 for ``"bf16"``, a no-op for ``"fp32"``."""
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16")


@dataclass
class TrainConfig:
    seed: int = 0
    vae_steps: int = 800
    vae_batch: int = 8
    vae_lr: float = 2e-3
    vae_fg_weight: float = 10.0
    vae_kl_weight: float = 1e-6
    vae_clip_frames: int = 0  # 0: 1 + chunk_size, the clip inference encodes and decodes
    clip_stride: int = 4
    dit_steps: int = 3000
    dit_batch: int = 32
    dit_lr: float = 1e-3
    dit_warmup: int = 100
    dit_stop_at: int = 0  # >0: end the DiT phase after this step (states kept); the schedule still spans dit_steps
    dit_self_cond: float = 0.0  # share of clips conditioned on the model's own prediction of their start frame
    dit_motion_weight: float = 0.0  # extra loss weight on latent cells whose pixels change within the clip
    ema_decay: float = 0.998
    save_every: int = 250
    threads: int = 0  # 0: leave torch's default
    precision: str = "fp32"  # "bf16": forward passes under CPU/CUDA bf16 autocast (weights, optimiser and loss in fp32)
    init_from: str = (
        ""  # a checkpoint directory (or a spec with shipped weights) to start both networks from: a fine-tune
    )

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"TrainConfig.precision must be one of {list(PRECISIONS)}, got {self.precision!r}")
        if not isinstance(self.init_from, str):
            raise TypeError(f"TrainConfig.init_from must be a path string ('' for none), got {self.init_from!r}")
        for f in dataclasses.fields(self):
            if f.name in ("precision", "init_from"):
                continue
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise TypeError(f"TrainConfig.{f.name} must be a finite number, got {v!r}")
            low = 1 if f.name in ("vae_batch", "dit_batch", "clip_stride", "save_every") else 0
            if f.name == "ema_decay":
                bad, bound = not 0 <= v < 1, "in [0, 1)"
            elif f.name == "dit_self_cond":
                bad, bound = not 0 <= v <= 1, "in [0, 1]"
            elif f.name.endswith("_lr"):
                bad, bound = v <= 0, "> 0"
            else:
                bad, bound = v < low, f">= {low}"
            if bad:
                raise ValueError(f"TrainConfig.{f.name} must be {bound}, got {v}")


def _lr(step: int, total: int, base: float, warmup: int = 0) -> float:
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    frac = (step - warmup) / max(1, total - warmup)
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def _to_unit(frames_u8: np.ndarray) -> torch.Tensor:
    """(B, T, H, W, 3) uint8 -> (B, 3, T, H, W) float32 in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames_u8)).float() / 127.5 - 1.0
    return x.permute(0, 4, 1, 2, 3).contiguous()


def background_colour(frames: np.ndarray, episodes: int = 16) -> np.ndarray:
    """The most common pixel colour (3,) uint8 of the first frames of the first ``episodes``
    episodes: the background the VAE's loss weighs the objects against. (A corner pixel is not
    always background: PushT's frames have a grey wall border round a white table, and with the
    wall taken for background the objects got no extra weight and the VAE collapsed to a blank
    table, 21.7 dB, for 750 steps.)"""
    px = np.asarray(frames[:episodes, 0]).reshape(-1, 3)
    colours, counts = np.unique(px, axis=0, return_counts=True)
    return colours[counts.argmax()]


def _atomic_torch_save(obj, path: Path) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def check_training_data(frames: np.ndarray, actions: np.ndarray, spec: ModelSpec) -> None:
    """Refuse data the trainer would turn into a broken model, naming what was expected:
    frames (N, L+1, H, W, 3) uint8 at the spec's resolution, actions (N, L, action_dim) finite
    and within the spec's bounds."""
    h, w = spec.resolution
    if frames.dtype != np.uint8 or frames.ndim != 5 or frames.shape[2:] != (h, w, 3):
        raise ValueError(f"frames must be (N, L+1, {h}, {w}, 3) uint8, got {frames.shape} {frames.dtype}")
    n, length = frames.shape[:2]
    if actions.ndim != 3 or actions.shape != (n, length - 1, spec.action_dim):
        raise ValueError(f"actions must be (N, L, A) = ({n}, {length - 1}, {spec.action_dim}), got {actions.shape}")
    if not np.issubdtype(actions.dtype, np.floating):
        raise TypeError(f"actions must be float32, got dtype {actions.dtype}")
    bad = ~np.isfinite(actions)
    if bad.any():
        e, t, a = np.argwhere(bad)[0]
        raise ValueError(f"actions hold {int(bad.sum())} NaN/inf values (first at episode {e}, step {t}, dim {a})")
    lo, hi = spec.action_low, spec.action_high
    out = (actions < lo) | (actions > hi)
    if out.any():
        e, t, a = np.argwhere(out)[0]
        raise ValueError(
            f"actions must lie in the spec's bounds [{lo}, {hi}]; {int(out.sum())} values do not "
            f"(first {float(actions[e, t, a])} at episode {e}, step {t}, dim {a})"
        )


def init_checkpoint(init_from: str, spec: ModelSpec) -> tuple:
    """The (VAE, DiT) a fine-tune starts from: a checkpoint directory, or a spec name whose
    weights ship in the package; its networks must be ``spec``'s (ValueError naming both)."""
    from ..checkpoints import is_checkpoint_dir, load_checkpoint
    from ..loading import ASSETS_DIR

    path = Path(init_from)
    if not is_checkpoint_dir(path) and is_checkpoint_dir(ASSETS_DIR / init_from):
        path = ASSETS_DIR / init_from
    if not is_checkpoint_dir(path):
        raise FileNotFoundError(
            f"init_from: expected a checkpoint directory or a spec with shipped weights, got {init_from!r}"
        )
    _, vae, dit = load_checkpoint(path, spec)
    return vae, dit


class Trainer:
    """Train ``spec``'s VAE and DiT on ``frames``/``actions`` into ``out`` (from scratch, or
    from ``config.init_from``'s weights: a fine-tune)."""

    def __init__(
        self,
        spec: ModelSpec,
        frames: np.ndarray,
        actions: np.ndarray,
        out: str | os.PathLike,
        config: TrainConfig | None = None,
        progress: bool = True,
    ) -> None:
        check_training_data(frames, actions, spec)
        if frames.shape[1] - 1 < spec.chunk_size:
            raise ValueError(f"episodes must hold at least chunk_size = {spec.chunk_size} actions")
        self.spec, self.frames, self.actions = spec, frames, actions.astype(np.float32)
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.cfg = config or TrainConfig()
        self.progress = progress
        if self.cfg.threads:
            torch.set_num_threads(self.cfg.threads)
        self.log_path = self.out / "loss_log.jsonl"

    # -- helpers -------------------------------------------------------------------------
    def _log(self, phase: str, step: int, **values) -> None:
        with open(self.log_path, "a") as f:
            f.write(json.dumps({"phase": phase, "step": step, **values}) + "\n")

    def _bar(self, total: int, initial: int, desc: str):
        return tqdm(total=total, initial=initial, desc=desc, disable=not self.progress, mininterval=5.0)

    # -- phase 1: VAE ------------------------------------------------------------------------
    def train_vae(self):
        spec, cfg = self.spec, self.cfg
        torch.manual_seed(cfg.seed)
        vae = build_vae(spec).train()
        opt = torch.optim.Adam(vae.parameters(), lr=cfg.vae_lr)
        rng = np.random.default_rng(cfg.seed)
        start = 0
        state_path = self.out / "state_vae.pt"
        if state_path.exists():
            st = torch.load(state_path, weights_only=True)
            vae.load_state_dict(st["model"])
            opt.load_state_dict(st["opt"])
            start = int(st["step"])
            rng = np.random.default_rng([cfg.seed, start])
        elif cfg.init_from:
            init = init_checkpoint(cfg.init_from, spec)[0]
            vae.load_state_dict(init.state_dict())
            vae.register_to_config(latents_mean=init.config.latents_mean, latents_std=init.config.latents_std)
        # Train on exactly the clip inference sees (start frame + one chunk): the causal VAE
        # carries a cache across its temporal blocks, and a model trained on shorter clips
        # never learns the later blocks' cache state (frames 6-8 of a chunk fell to 9 dB).
        clip_len = cfg.vae_clip_frames or 1 + spec.chunk_size
        n, length = self.frames.shape[:2]
        bg = torch.from_numpy(background_colour(self.frames)).float()
        bar = self._bar(cfg.vae_steps, start, "vae")
        for step in range(start, cfg.vae_steps):
            ep = rng.integers(0, n, cfg.vae_batch)
            off = rng.integers(0, length - clip_len + 1, cfg.vae_batch)
            clips = np.stack([self.frames[e, o : o + clip_len] for e, o in zip(ep, off, strict=True)])
            x = _to_unit(clips)
            fg = ((torch.from_numpy(clips).float() - bg).abs().amax(-1) > 8).float()  # (B, T, H, W)
            weight = 1.0 + cfg.vae_fg_weight * fg.unsqueeze(1)
            for g in opt.param_groups:
                g["lr"] = _lr(step, cfg.vae_steps, cfg.vae_lr, 50)
            with autocast(cfg.precision):
                post = vae.encode(x).latent_dist
                y = vae.decode(post.sample()).sample.float()
            rec = (weight * (y - x) ** 2).mean()
            kl = post.kl().mean() / x[0].numel()
            loss = rec + cfg.vae_kl_weight * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
            opt.step()
            mse = float(((y.detach() - x) ** 2).mean())
            psnr = 10 * math.log10(4.0 / max(mse, 1e-12))
            self._log("vae", step, loss=float(loss.detach()), rec=float(rec.detach()), psnr=psnr)
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}", psnr=f"{psnr:.1f}", refresh=False)
            bar.update(1)
            if (step + 1) % cfg.save_every == 0 or step + 1 == cfg.vae_steps:
                _atomic_torch_save({"model": vae.state_dict(), "opt": opt.state_dict(), "step": step + 1}, state_path)
                rng = np.random.default_rng([cfg.seed, step + 1])
        bar.close()
        vae.eval()
        if not (cfg.init_from and cfg.vae_steps == 0):  # a fine-tune of the DiT keeps its VAE's statistics
            self._set_latent_stats(vae)
        return vae

    @torch.no_grad()
    def _set_latent_stats(self, vae) -> None:
        rng = np.random.default_rng(self.cfg.seed)
        idx = rng.integers(0, self.frames.shape[0], 64)
        x = _to_unit(self.frames[idx, :1])
        z = torch.cat([vae.encode(x[i : i + 16]).latent_dist.mode() for i in range(0, len(x), 16)])
        mean = z.mean(dim=(0, 2, 3, 4)).tolist()
        std = z.std(dim=(0, 2, 3, 4)).clamp_min(1e-3).tolist()
        vae.register_to_config(latents_mean=mean, latents_std=std)

    # -- phase 2: latents ----------------------------------------------------------------------
    @torch.no_grad()
    def encode_clips(self, vae) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised latents (M, C, F, h, w) and actions (M, chunk, A) of every training clip."""
        path = self.out / "latents.pt"
        if path.exists():
            st = torch.load(path, weights_only=True)
            return st["latents"], st["actions"]
        spec, cfg = self.spec, self.cfg
        cs = spec.chunk_size
        n, length = self.frames.shape[:2]
        offsets = list(range(0, length - cs, cfg.clip_stride))
        latents_norm = LatentNormalizer.of(vae, spec.latent_channels)  # as the engine normalises
        lats, acts = [], []
        bar = self._bar(n, 0, "encode clips")
        for e in range(n):
            clips = np.stack([self.frames[e, o : o + cs + 1] for o in offsets])
            z = vae.encode(_to_unit(clips)).latent_dist.mode()
            lats.append(latents_norm.normalize(z))
            acts.append(torch.from_numpy(np.stack([self.actions[e, o : o + cs] for o in offsets])))
            bar.update(1)
        bar.close()
        latents, actions = torch.cat(lats), torch.cat(acts)
        _atomic_torch_save({"latents": latents, "actions": actions}, path)
        return latents, actions

    # -- phase 3: DiT ------------------------------------------------------------------------
    def previous_clips(self, m: int) -> torch.Tensor:
        """Index (M,) int64 of each clip's predecessor (same episode, one chunk earlier: its
        last frame is this clip's start frame), -1 where there is none."""
        cs, stride = self.spec.chunk_size, self.cfg.clip_stride
        n, length = self.frames.shape[:2]
        per_episode = len(range(0, length - cs, stride))
        out = torch.full((m,), -1, dtype=torch.long)
        if cs % stride:
            return out  # no clip starts exactly one chunk earlier
        back = cs // stride
        k = torch.arange(m) % per_episode
        has = k >= back
        out[has] = torch.arange(m)[has] - back
        return out

    def motion_mask(self, idx: torch.Tensor, f: int, h: int, w: int) -> torch.Tensor:
        """(B, 1, f, h, w) float32 in {0, 1}: the latent cells of clips ``idx`` (indices into
        :meth:`encode_clips`' order) whose pixels change from the clip's start frame (any channel
        by more than 8 levels) in any of the frames the latent frame covers. Latent frame 0 is
        the start frame (never moving); latent frame j >= 1 covers the pixel frames
        ``(j - 1) * r + 1 .. j * r`` with ``r = chunk_size / (f - 1)``. Small movers (a pusher a
        few pixels wide) are a few cells of an otherwise static picture: weighting them keeps
        the loss from being decided by the background."""
        cs, stride = self.spec.chunk_size, self.cfg.clip_stride
        n, length = self.frames.shape[:2]
        per_episode = len(range(0, length - cs, stride))
        ep, off = (idx // per_episode).numpy(), (idx % per_episode).numpy() * stride
        clips = torch.from_numpy(np.stack([self.frames[e, o : o + cs + 1] for e, o in zip(ep, off, strict=True)]))
        clips = clips.to(torch.int16)
        moved = ((clips[:, 1:] - clips[:, :1]).abs().amax(-1) > 8).float()  # (B, cs, H, W)
        r = cs // (f - 1)
        b = moved.shape[0]
        moved = moved.view(b, f - 1, r, *moved.shape[2:]).amax(2)  # (B, f - 1, H, W)
        cells = torch.nn.functional.adaptive_max_pool2d(moved, (h, w))  # (B, f - 1, h, w)
        return torch.cat([torch.zeros(b, 1, h, w), cells], 1).unsqueeze(1)

    @torch.no_grad()
    def self_conditioning(self, dit, vae, normalizer, prev_latents, prev_actions, g) -> torch.Tensor:
        """The start-frame latents (B, C, 1, h, w) the model itself hands over after the previous
        chunk: sample that chunk from its true start with its true actions, decode it, quantise the
        last frame to uint8 and encode it alone, exactly as inference's pixel handoff does."""
        from ..sampling import denoise_chunk
        from ..tokenizer import vae_decode, vae_encode_first_frames

        spec = self.spec
        noise = torch.randn(prev_latents.shape, generator=g)
        with autocast(self.cfg.precision):
            lat = denoise_chunk(
                dit,
                prev_latents[:, :, :1],
                prev_actions,
                noise,
                num_steps=spec.num_steps,
                guidance=0.0,
                shift=spec.shift,
                sigma_max=spec.sigma_max,
            )
        dtype = next(vae.parameters()).dtype
        last = vae_decode(vae, normalizer.denormalize(lat).to(dtype))[:, :, -1:].float()
        last = ((last + 1.0) * 127.5).round().clamp(0, 255) / 127.5 - 1.0  # what a uint8 frame holds
        return normalizer.normalize(vae_encode_first_frames(vae, last.to(dtype)))

    def train_dit(self, latents: torch.Tensor, actions: torch.Tensor, vae=None) -> ActionConditionedDiT:
        spec, cfg = self.spec, self.cfg
        torch.manual_seed(cfg.seed + 1)
        dit = ActionConditionedDiT(spec).train()
        g = torch.Generator().manual_seed(cfg.seed + 2)
        dit.context.copy_(torch.randn(dit.context.shape, generator=g))
        ema = {k: v.detach().clone() for k, v in dit.state_dict().items()}
        opt = torch.optim.AdamW(dit.parameters(), lr=cfg.dit_lr, weight_decay=0.01)
        start = 0
        state_path = self.out / "state_dit.pt"
        if state_path.exists():
            st = torch.load(state_path, weights_only=True)
            dit.load_state_dict(st["model"])
            opt.load_state_dict(st["opt"])
            ema = st["ema"]
            start = int(st["step"])
        elif cfg.init_from:
            dit.load_state_dict(init_checkpoint(cfg.init_from, spec)[1].state_dict())
            ema = {k: v.detach().clone() for k, v in dit.state_dict().items()}
        g.manual_seed(cfg.seed * 1_000_003 + start)
        m = latents.shape[0]
        b, c, f, h, w = cfg.dit_batch, *latents.shape[1:]
        cond_mask = torch.zeros(b, 1, f, h, w)
        cond_mask[:, :, 0] = 1.0
        shift = spec.shift
        end = min(cfg.dit_stop_at, cfg.dit_steps) if cfg.dit_stop_at > 0 else cfg.dit_steps
        bar = self._bar(end, start, "dit")
        prev = self.previous_clips(m)
        if cfg.dit_self_cond and vae is None:
            raise ValueError("dit_self_cond needs the VAE (the handoff is decoded and re-encoded)")
        normalizer = LatentNormalizer.of(vae, spec.latent_channels) if cfg.dit_self_cond else None
        for step in range(start, end):
            idx = torch.randint(0, m, (b,), generator=g)
            x0, act = latents[idx], actions[idx]
            if cfg.dit_self_cond:
                pick = (torch.rand(b, generator=g) < cfg.dit_self_cond) & (prev[idx] >= 0)
                if pick.any():
                    j = prev[idx[pick]]
                    x0 = x0.clone()
                    x0[pick, :, :1] = self.self_conditioning(dit, vae, normalizer, latents[j], actions[j], g)
            u = torch.rand(b, generator=g)
            sigma = shift * u / (1 + (shift - 1) * u)
            eps = torch.randn(x0.shape, generator=g)
            s = sigma.view(b, 1, 1, 1, 1)
            xt = (1 - s) * x0 + s * eps
            xt = cond_mask * x0 + (1 - cond_mask) * xt
            target = eps - x0
            for group in opt.param_groups:
                group["lr"] = _lr(step, cfg.dit_steps, cfg.dit_lr, cfg.dit_warmup)
            with autocast(cfg.precision):
                v = dit(xt, cond_mask, sigma, act).float()
            if cfg.dit_motion_weight:
                weight = (1 - cond_mask) * (1 + cfg.dit_motion_weight * self.motion_mask(idx, f, h, w))
                loss = (((v - target) ** 2) * weight).sum() / (weight.sum() * c)
            else:
                loss = (((v - target) ** 2) * (1 - cond_mask)).sum() / ((1 - cond_mask).sum() * c)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(dit.parameters(), 1.0)
            opt.step()
            with torch.no_grad():
                d = min(cfg.ema_decay, (1 + step) / (10 + step))
                for k, val in dit.state_dict().items():
                    if val.dtype.is_floating_point:
                        ema[k].mul_(d).add_(val.detach(), alpha=1 - d)
            self._log("dit", step, loss=float(loss.detach()))
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}", refresh=False)
            bar.update(1)
            if (step + 1) % cfg.save_every == 0 or step + 1 == end:
                _atomic_torch_save(
                    {"model": dit.state_dict(), "opt": opt.state_dict(), "ema": ema, "step": step + 1},
                    state_path,
                )
        bar.close()
        dit.load_state_dict(ema)
        return dit.eval()

    # -- all -------------------------------------------------------------------------------------
    def run(self, checkpoint_dir: str | os.PathLike | None = None, stop_after: str | None = None) -> Path | None:
        """All three phases; writes the final checkpoint directory and returns its path.

        ``stop_after="vae"`` or ``"latents"`` ends early (the states stay in ``out`` for a
        later run to resume from) and returns None; so does a ``dit_stop_at`` short of
        ``dit_steps``.
        """
        if stop_after not in (None, "vae", "latents", "dit"):
            raise ValueError(f"stop_after must be 'vae', 'latents', 'dit' or None, got {stop_after!r}")
        t0 = time.time()
        vae = self.train_vae()
        if stop_after == "vae":
            return None
        latents, actions = self.encode_clips(vae)
        if stop_after == "latents":
            return None
        dit = self.train_dit(latents, actions, vae)
        if 0 < self.cfg.dit_stop_at < self.cfg.dit_steps:
            return None
        ckpt = Path(checkpoint_dir) if checkpoint_dir else self.out / "checkpoint"
        meta = {"clips": int(latents.shape[0]), "train_seconds": round(time.time() - t0, 1)}
        return self._write_checkpoint(ckpt, vae, dit, meta)

    def snapshot(self, checkpoint_dir: str | os.PathLike) -> Path:
        """A checkpoint from the states saved so far in ``out`` (the VAE, and the DiT's EMA at
        its last save), without training a step: to evaluate a run while it goes on. Its
        meta.json records ``dit_step``; raises FileNotFoundError before the DiT's first save."""
        state_path = self.out / "state_dit.pt"
        if not state_path.exists():
            raise FileNotFoundError(
                f"{self.out} holds no saved DiT state yet (state_dit.pt is written every {self.cfg.save_every} steps)"
            )
        vae_path = self.out / "state_vae.pt"
        vae_step = int(torch.load(vae_path, weights_only=True)["step"]) if vae_path.exists() else 0
        if vae_step < self.cfg.vae_steps:
            raise FileNotFoundError(f"the VAE phase in {self.out} is at step {vae_step} of {self.cfg.vae_steps}")
        vae = self.train_vae()  # the VAE phase is over: this only loads it and sets its latent statistics
        st = torch.load(state_path, weights_only=True)
        dit = ActionConditionedDiT(self.spec)
        dit.load_state_dict(st["ema"])
        return self._write_checkpoint(Path(checkpoint_dir), vae, dit.eval(), {"dit_step": int(st["step"])})

    def _write_checkpoint(self, ckpt: Path, vae, dit, meta: dict) -> Path:
        meta = {
            "train_config": asdict(self.cfg),
            "episodes": int(self.frames.shape[0]),
            **meta,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        }
        examples = self.frames[: min(32, len(self.frames)), 0]  # start frames of the first episodes
        for name, module in (("VAE", vae), ("DiT", dit)):
            bad = [k for k, v in module.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()]
            if bad:
                raise RuntimeError(
                    f"training diverged: the {name} has NaN/inf in {bad[:3]} ({len(bad)} tensors); "
                    f"no checkpoint written (states kept in {self.out})"
                )
        save_checkpoint(ckpt, self.spec, vae, dit, meta, example_frames=examples)
        return ckpt
