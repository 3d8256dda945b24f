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
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .files import process_umask
from .networks import ActionConditionedDiT, build_vae
from .specs import ModelSpec

SPEC_FILE = "spec.json"
VAE_FILE = "vae.safetensors"
DIT_FILE = "transformer.safetensors"
CONTEXT_FILE = "context.safetensors"
META_FILE = "meta.json"
EXAMPLES_FILE = "examples.safetensors"  # optional: example start frames (N, H, W, 3) uint8
REQUIRED_FILES = (SPEC_FILE, VAE_FILE, DIT_FILE, CONTEXT_FILE)


def _contiguous(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in sd.items()}


def save_checkpoint(
    path: str | os.PathLike,
    spec: ModelSpec,
    vae,
    dit: ActionConditionedDiT,
    meta: dict | None = None,
    example_frames=None,
) -> Path:
    """Write a checkpoint directory at ``path`` (replaced atomically if it exists).

    example_frames: optional (N, H, W, 3) uint8 start frames stored with the model, used by
    environments as default start frames.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = with_latent_stats(spec, vae)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        tmp.chmod(0o777 & ~process_umask())  # mkdtemp's folder is private (0700); use mkdir's mode
        (tmp / SPEC_FILE).write_text(spec.to_json())
        save_file(_contiguous(vae.state_dict()), str(tmp / VAE_FILE))
        sd = {k: v for k, v in dit.state_dict().items() if k != "context"}
        save_file(_contiguous(sd), str(tmp / DIT_FILE))
        save_file({"context": dit.context.detach().float().contiguous().cpu()}, str(tmp / CONTEXT_FILE))
        (tmp / META_FILE).write_text(json.dumps(meta or {}, indent=2, sort_keys=True))
        if example_frames is not None:
            save_file({"frames": _example_tensor(example_frames, spec)}, str(tmp / EXAMPLES_FILE))
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


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
    return load_file(str(p))["frames"].numpy() if p.is_file() else None


def is_checkpoint_dir(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and (p / SPEC_FILE).is_file()


def read_spec(path: str | os.PathLike) -> ModelSpec:
    p = Path(path) / SPEC_FILE
    if not p.is_file():
        raise FileNotFoundError(f"no {SPEC_FILE} in checkpoint directory {Path(path)}")
    return ModelSpec.from_dict(json.loads(p.read_text()))


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
    vae.load_state_dict(load_file(str(path / VAE_FILE)), strict=True, assign=True)
    sd = load_file(str(path / DIT_FILE))
    sd["context"] = load_file(str(path / CONTEXT_FILE))["context"]
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


# --- the reference DreamDojo / cosmos_predict2 layout -----------------------------------------

# Substring renames from the reference network (after its prefix is stripped) to
# diffusers' CosmosTransformer3DModel, applied in order.
_REFERENCE_RENAMES: tuple[tuple[str, str], ...] = (
    ("x_embedder.proj.1.", "patch_embed.proj."),
    ("t_embedder.1.", "time_embed.t_embedder."),
    ("t_embedding_norm.", "time_embed.norm."),
    ("final_layer.adaln_modulation.", "norm_out.linear_"),
    ("final_layer.linear.", "proj_out."),
    ("blocks.", "transformer_blocks."),
    ("adaln_modulation_self_attn.", "norm1.linear_"),
    ("adaln_modulation_cross_attn.", "norm2.linear_"),
    ("adaln_modulation_mlp.", "norm3.linear_"),
    ("self_attn.", "attn1."),
    ("cross_attn.", "attn2."),
    ("q_proj.", "to_q."),
    ("k_proj.", "to_k."),
    ("v_proj.", "to_v."),
    ("output_proj.", "to_out.0."),
    ("q_norm.", "norm_q."),
    ("k_norm.", "norm_k."),
    ("mlp.layer1.", "ff.net.0.proj."),
    ("mlp.layer2.", "ff.net.2."),
)
_ACTION_RENAMES = {
    "action_embedder_B_D.fc1.": "action_embed.to_timestep.0.",
    "action_embedder_B_D.fc2.": "action_embed.to_timestep.2.",
    "action_embedder_B_3D.fc1.": "action_embed.to_adaln.0.",
    "action_embedder_B_3D.fc2.": "action_embed.to_adaln.2.",
}
# Training bookkeeping and recomputed buffers in the reference state dict.
_REFERENCE_DROP = ("accum_", "pos_embedder.", "_extra_state", "logvar.")
_PREFIXES = ("module.", "model.", "net_ema.", "net.")


def read_reference_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a reference checkpoint file (.safetensors, or .pt/.pth via weights_only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"reference checkpoint {path} not found; pass the DreamDojo GR-1 model file "
            "(.pt/.pth or .safetensors) that holds the network weights"
        )
    if path.suffix == ".safetensors":
        return load_file(str(path))
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "ema"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise ValueError(f"{path} does not hold a state dict (got {type(obj).__name__})")
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def convert_reference_state_dict(state: dict[str, torch.Tensor], *, ema: bool = True) -> dict[str, torch.Tensor]:
    """Rename reference ``cosmos_predict2`` action-conditioned DiT keys to ours.

    Keys may sit under ``net.`` (or ``net_ema.``, chosen when ``ema`` and present). Returns
    ``transformer.*``, ``action_embed.*`` and, if present, ``crossattn_proj.*`` (kept apart:
    it only serves to project a raw prompt context).
    """
    has_ema = any(k.startswith("net_ema.") for k in state)
    want = "net_ema." if (ema and has_ema) else "net."
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith(("net.", "net_ema.")) and not key.startswith(want):
            continue
        k = key
        for prefix in _PREFIXES:
            k = k.removeprefix(prefix)
        if any(d in k for d in _REFERENCE_DROP):
            continue
        if k.startswith("action_embedder_"):
            for old, new in _ACTION_RENAMES.items():
                if k.startswith(old):
                    out[new + k.removeprefix(old)] = value
                    break
            else:
                raise KeyError(f"unexpected action embedder key {key!r}")
            continue
        if k.startswith("crossattn_proj."):
            out[k] = value
            continue
        for old, new in _REFERENCE_RENAMES:
            k = k.replace(old, new)
        out["transformer." + k] = value
    return out


def import_reference_checkpoint(
    dit_weights: str | os.PathLike | dict,
    spec: ModelSpec,
    *,
    vae_weights: str | os.PathLike | None = None,
    context: torch.Tensor | None = None,
    ema: bool = True,
):
    """Build (vae, dit) for ``spec`` from the reference DreamDojo checkpoint layout.

    dit_weights: a reference checkpoint file, or its state dict.
    vae_weights: the Wan2.1 VAE in diffusers layout: a directory holding
        ``diffusion_pytorch_model.safetensors`` or the safetensors file itself. When None the
        VAE keeps random weights (useful only for architecture checks).
    context: the prompt context, either projected ``(L, text_embed_dim)`` or raw
        ``(L, crossattn_proj_in_channels)`` (then projected with the checkpoint's
        ``crossattn_proj``). A leading batch axis of 1 is accepted. When None, zeros.
    Every DiT key must match (strict=True).
    """
    state = dit_weights if isinstance(dit_weights, dict) else read_reference_state_dict(dit_weights)
    converted = convert_reference_state_dict(dict(state), ema=ema)
    proj = {k.removeprefix("crossattn_proj."): v for k, v in converted.items() if k.startswith("crossattn_proj.")}
    sd = {k: v for k, v in converted.items() if not k.startswith("crossattn_proj.")}
    vae, dit = build_modules(spec, meta_device=True)
    tr_cfg = dit.transformer.config
    if tr_cfg.use_crossattn_projection:
        sd.update({f"transformer.crossattn_proj.{k}": v for k, v in proj.items()})
    ctx = torch.zeros(1, spec.context_tokens, spec.context_dim) if context is None else context.detach().float()
    if ctx.ndim == 2:
        ctx = ctx[None]
    if not tr_cfg.use_crossattn_projection and ctx.shape[-1] != spec.context_dim:
        if not proj:
            raise ValueError(
                f"context has {ctx.shape[-1]} channels, spec {spec.name!r} stores a projected context of "
                f"{spec.context_dim}; the checkpoint has no crossattn_proj to project it"
            )
        w, b = proj["0.weight"].float(), proj["0.bias"].float()
        ctx = torch.nn.functional.gelu(ctx @ w.T + b)
    if tuple(ctx.shape) != (1, spec.context_tokens, spec.context_dim):
        raise ValueError(
            f"context must have shape ({spec.context_tokens}, {spec.context_dim}) for spec {spec.name!r}, "
            f"got {tuple(ctx.shape)}"
        )
    sd["context"] = ctx
    dit.load_state_dict(sd, strict=True, assign=True)
    if vae_weights is None:
        vae = build_vae(spec)
    else:
        vp = Path(vae_weights)
        if vp.is_dir():
            vp = vp / "diffusion_pytorch_model.safetensors"
        if not vp.is_file():
            raise FileNotFoundError(f"Wan VAE weights not found at {vp} (diffusers layout expected)")
        vae.load_state_dict(load_file(str(vp)), strict=True, assign=True)
    return vae.eval(), dit.eval()
