"""Checkpoints: our directory format, and an importer for the reference DreamDojo layout.

Our format is a directory::

    spec.json                   the ModelSpec
    vae.safetensors             AutoencoderKLWan state dict (diffusers key names)
    transformer.safetensors     ActionConditionedDiT state dict without the context:
                                ``transformer.*`` (diffusers CosmosTransformer3DModel keys)
                                and ``action_embed.*``
    context.safetensors         ``context``: (1, L, C) float32, the projected prompt context
    meta.json                   free-form provenance (optional)

:func:`save_checkpoint` writes into a temporary sibling directory and renames it into place,
so an existing checkpoint is never left half-overwritten. Nothing is ever unpickled: weights
are safetensors, and reference ``.pt`` files go through ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .files import atomic_write_dir
from .networks import ActionConditionedDiT, build_vae
from .specs import ModelSpec

SPEC_FILE = "spec.json"
VAE_FILE = "vae.safetensors"
DIT_FILE = "transformer.safetensors"
CONTEXT_FILE = "context.safetensors"
META_FILE = "meta.json"
EXAMPLES_FILE = "examples.safetensors"  # optional: example start frames (N, H, W, 3) uint8
REQUIRED_FILES = (SPEC_FILE, VAE_FILE, DIT_FILE, CONTEXT_FILE)


def _float32(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """float32 CPU copies of floating tensors (fp32 CPU tensors are shared, not copied)."""
    return {k: (v.detach().float() if v.is_floating_point() else v.detach()).contiguous().cpu() for k, v in sd.items()}


_FLOAT_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def read_tensors(file: Path, expected: dict[str, tuple], spec: ModelSpec) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors ``file``, checked against ``expected`` names and shapes
    (from the spec's modules) and cast to float32; every error names the file."""
    try:
        tensors = load_file(str(file))
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise ValueError(f"{file} is not a readable safetensors file: {type(e).__name__}: {e}") from None
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{file} does not hold the tensors of spec {spec.name!r}: missing {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''} ({len(missing)} in all), unexpected {unexpected[:5]}"
            f"{' ...' if len(unexpected) > 5 else ''} ({len(unexpected)} in all)"
        )
    for key, t in tensors.items():
        if tuple(t.shape) != tuple(expected[key]):
            raise ValueError(
                f"{file}: tensor {key!r} has shape {tuple(t.shape)}, spec {spec.name!r} expects {tuple(expected[key])}"
            )
        if t.dtype not in _FLOAT_DTYPES:
            raise ValueError(f"{file}: tensor {key!r} has dtype {t.dtype}, expected float32 (or bf16/fp16)")
        if not torch.isfinite(t).all():
            raise ValueError(f"{file}: tensor {key!r} holds NaN or infinite values")
    return {k: t.float() for k, t in tensors.items()}


def save_checkpoint(
    path: str | os.PathLike,
    spec: ModelSpec,
    vae,
    dit: ActionConditionedDiT,
    meta: dict | None = None,
    example_frames=None,
) -> Path:
    """Write a checkpoint directory at ``path`` (replaced atomically if it exists: at every
    instant ``path`` is the old checkpoint or the new one; see ``atomic_write_dir``).

    Weights are written as float32 copies; the modules themselves are not changed (a bf16
    engine keeps running after a save). example_frames: optional (N, H, W, 3) uint8 start
    frames stored with the model, used by environments as default start frames.
    """
    spec = with_latent_stats(spec, vae)

    def fill(tmp: Path) -> None:
        (tmp / SPEC_FILE).write_text(spec.to_json())
        save_file(_float32(vae.state_dict()), str(tmp / VAE_FILE))
        sd = {k: v for k, v in dit.state_dict().items() if k != "context"}
        save_file(_float32(sd), str(tmp / DIT_FILE))
        save_file(_float32({"context": dit.context}), str(tmp / CONTEXT_FILE))
        (tmp / META_FILE).write_text(json.dumps(meta or {}, indent=2, sort_keys=True))
        if example_frames is not None:
            save_file({"frames": _example_tensor(example_frames, spec)}, str(tmp / EXAMPLES_FILE))

    return atomic_write_dir(path, fill)


_STATS = ("latents_mean", "latents_std")


def with_latent_stats(spec: ModelSpec, vae) -> ModelSpec:
    """``spec`` with the VAE's latent normalisation (per-channel mean/std, part of the VAE's
    config, not of its state dict) written into ``spec.vae`` so that it is saved."""
    stats = {k: [float(x) for x in getattr(vae.config, k)] for k in _STATS if getattr(vae.config, k, None)}
    return spec.replace(vae={**spec.vae, **stats})


def _networks(spec: ModelSpec) -> tuple:
    vae = {k: v for k, v in spec.vae.items() if k not in _STATS}
    return (
        json.dumps(vae, sort_keys=True),
        json.dumps(spec.transformer, sort_keys=True, default=list),
        spec.action_dim,
        spec.temporal_factor,
        spec.action_hidden,
        spec.context_tokens,
        spec.context_dim,
    )


def _example_tensor(frames, spec: ModelSpec) -> torch.Tensor:
    import numpy as np

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[1:] != (*spec.resolution, 3) or frames.dtype != np.uint8:
        raise ValueError(
            f"example_frames must be (N, {spec.height}, {spec.width}, 3) uint8, got {frames.shape} {frames.dtype}"
        )
    return torch.from_numpy(np.ascontiguousarray(frames))


def read_example_frames(path: str | os.PathLike):
    """The checkpoint's example start frames (N, H, W, 3) uint8, or None."""
    p = Path(path) / EXAMPLES_FILE
    if not p.is_file():
        return None
    try:
        frames = load_file(str(p))["frames"]
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise ValueError(f"{p} is not a safetensors file holding 'frames': {type(e).__name__}: {e}") from None
    if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{p}: 'frames' must be (N, H, W, 3) uint8, got {tuple(frames.shape)} {frames.dtype}")
    return frames.numpy()


def is_checkpoint_dir(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and (p / SPEC_FILE).is_file()


def read_spec(path: str | os.PathLike) -> ModelSpec:
    p = Path(path) / SPEC_FILE
    if not p.is_file():
        raise FileNotFoundError(f"no {SPEC_FILE} in checkpoint directory {Path(path)}")
    try:
        data = json.loads(p.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{p} is not a JSON spec file: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p} must hold a JSON object of ModelSpec fields, got {type(data).__name__}")
    try:
        return ModelSpec.from_dict(data)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{p}: {e}") from None


def build_modules(spec: ModelSpec, *, meta_device: bool = False):
    """Fresh (VAE, DiT) for ``spec``; on the meta device when asked (no memory, no init)."""
    if meta_device:
        with torch.device("meta"):
            return build_vae(spec), ActionConditionedDiT(spec)
    return build_vae(spec), ActionConditionedDiT(spec)


def load_checkpoint(path: str | os.PathLike, spec: ModelSpec | None = None):
    """Load (spec, vae, dit) from a checkpoint directory, every key checked (strict=True).

    ``spec`` overrides the stored spec's sampler and metadata fields; its networks must match
    the stored ones (else ``ValueError``), and the VAE's latent statistics always come from
    the checkpoint.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint directory {path} does not exist")
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        raise FileNotFoundError(f"checkpoint directory {path} lacks {missing}; expected files {list(REQUIRED_FILES)}")
    stored = read_spec(path)
    if spec is None:
        spec = stored
    else:
        if _networks(spec) != _networks(stored):
            raise ValueError(
                f"spec {spec.name!r} does not match the networks stored in {path} (spec {stored.name!r}); "
                "load the checkpoint without a spec to use its own"
            )
        spec = spec.replace(vae=stored.vae)
    vae, dit = build_modules(spec, meta_device=True)
    vae_shapes = {k: tuple(v.shape) for k, v in vae.state_dict().items()}
    dit_shapes = {k: tuple(v.shape) for k, v in dit.state_dict().items()}
    vae.load_state_dict(read_tensors(path / VAE_FILE, vae_shapes, spec), strict=True, assign=True)
    sd = read_tensors(path / DIT_FILE, {k: v for k, v in dit_shapes.items() if k != "context"}, spec)
    sd.update(read_tensors(path / CONTEXT_FILE, {"context": dit_shapes["context"]}, spec))
    dit.load_state_dict(sd, strict=True, assign=True)
    return spec, vae.eval(), dit.eval()


def random_modules(spec: ModelSpec):
    """(vae, dit) with weights drawn from ``spec.init_seed`` (the same bytes every time).

    diffusers zero-initialises nothing that matters here, but several Cosmos layers start at
    values that make a random model output near-constant video; a scaled normal draw keeps
    random rollouts visibly varied, which is what tests of the plumbing need.
    """
    vae, dit = build_modules(spec)
    g = torch.Generator().manual_seed(spec.init_seed)
    with torch.no_grad():
        for module in (vae, dit):
            for name, p in module.named_parameters():
                if p.ndim >= 2:
                    fan_in = p[0].numel()
                    p.copy_(torch.randn(p.shape, generator=g) / fan_in**0.5)
                elif name.endswith("weight"):
                    p.fill_(1.0)
                else:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.02)
        dit.context.copy_(torch.randn(dit.context.shape, generator=g))
    return vae.eval(), dit.eval()
