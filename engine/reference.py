"""Importing the reference DreamDojo network (NVIDIA/DreamDojo's vendored ``cosmos_predict2``):
its checkpoint keys renamed onto ours, loaded strictly, never unpickling objects.

* :func:`read_reference_state_dict` — a ``.pt`` (``torch.load(weights_only=True)``) or
  ``.safetensors`` file to a flat state dict.
* :func:`convert_reference_state_dict` — reference keys to ours (``net_ema.`` preferred).
* :func:`import_reference_checkpoint` — (VAE, DiT) modules for a spec from the reference files.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import load_file

from .checkpoints import build_modules, read_tensors
from .networks import build_vae
from .specs import ModelSpec

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
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - safetensors, zip and unpickler errors alike
        raise ValueError(
            f"{path} is not a readable reference checkpoint (.safetensors, or a .pt/.pth of tensors only): "
            f"{type(e).__name__}: {str(e)[:300]}"
        ) from None
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
        expected = {k: tuple(v.shape) for k, v in vae.state_dict().items()}
        vae.load_state_dict(read_tensors(vp, expected, spec), strict=True, assign=True)
    return vae.eval(), dit.eval()
