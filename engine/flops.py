"""Analytic FLOP counts (multiply-add = 2 FLOPs) for one DiT call and one rollout."""

from __future__ import annotations

from .specs import ModelSpec


def dit_call_flops(spec: ModelSpec, batch: int = 1) -> dict[str, float]:
    """FLOPs of one ActionConditionedDiT forward over one chunk's latent frames.

    Returns ``matmul`` (all linear layers), ``attention`` (QK^T and AV, self and cross) and
    ``total``. The adaLN, time and action MLPs run per latent frame, not per token.
    """
    t = spec.transformer
    d = t["num_attention_heads"] * t["attention_head_dim"]
    p = t["patch_size"]
    f = spec.latent_frames_per_chunk
    h, w = spec.latent_size
    n = f * (h // p[1]) * (w // p[2])  # tokens
    layers, r, lora = t["num_layers"], t["mlp_ratio"], t["adaln_lora_dim"]
    lc, dc = spec.context_tokens, t["text_embed_dim"]
    per_layer = 2 * n * (4 * d * d) + 2 * n * (2 * d * d) + 2 * n * (2 * r * d * d)  # self qkvo, cross q/o, MLP
    per_layer += 2 * lc * 2 * dc * d  # cross k/v of the shared context (once, batch-invariant)
    per_layer += 3 * 2 * f * (d * lora + lora * 3 * d)  # adaLN-LoRA per frame
    io = 2 * n * (t["in_channels"] * p[0] * p[1] * p[2]) * d + 2 * n * d * (p[0] * p[1] * p[2] * t["out_channels"])
    io += 2 * f * d * lora * 3  # output adaLN
    fan = spec.action_dim * spec.temporal_factor
    emb = 2 * (f - 1) * (fan * spec.action_hidden * 2 + spec.action_hidden * 4 * d) + 2 * f * (d * d + d * 3 * d)
    matmul = layers * per_layer + io + emb
    attention = layers * (2 * 2 * n * n * d + 2 * 2 * n * lc * d)
    return {
        "tokens": n,
        "matmul": batch * matmul,
        "attention": batch * attention,
        "total": batch * (matmul + attention),
    }


def rollout_dit_flops(spec: ModelSpec, num_frames: int, num_steps: int | None = None, guidance: float = 0.0) -> float:
    """DiT FLOPs of one rollout of ``num_frames`` predicted frames (VAE not included)."""
    steps = spec.num_steps if num_steps is None else num_steps
    chunks = num_frames // spec.chunk_size
    passes = 2 if guidance else 1
    return chunks * steps * passes * dit_call_flops(spec)["total"]
