"""The networks: diffusers' Wan VAE and Cosmos DiT, plus our action conditioning.

* :func:`build_vae` — ``diffusers.AutoencoderKLWan`` from the spec (the tokenizer).
* :class:`ActionEmbedder` — two MLPs per latent frame, as in the reference DreamDojo net:
  ``(tf * A) -> hidden -> D`` (added to the sinusoidal timestep features before their
  RMSNorm) and ``(tf * A) -> hidden -> 3D`` (added to the adaLN-LoRA term). The
  conditioning latent frame gets a zero embedding.
* :class:`ActionConditionedDiT` — ``diffusers.CosmosTransformer3DModel`` driven with
  per-latent-frame conditioning. Its :meth:`forward` composes the diffusers submodules
  (patch embedding, RoPE, time embedding, the blocks' norms/attention/MLP, output head);
  the only thing it does differently from ``CosmosTransformer3DModel.forward`` is to apply
  the adaLN modulation per latent frame by broadcasting over that frame's tokens instead
  of expanding it to every token (about 8% fewer FLOPs at full size), and to compute the
  cross-attention keys/values of the constant context once per call. With equal
  embeddings in every frame it reproduces the diffusers forward (tested).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKLWan, CosmosTransformer3DModel
from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d, WanRMS_norm
from torch import nn

from .specs import ModelSpec


class FastWanRMSNorm(WanRMS_norm):
    """diffusers' ``WanRMS_norm`` with the same parameters and maths, computed as
    ``x * rsqrt(max(sum(x^2), eps^2))`` instead of ``F.normalize`` over the channel axis.

    On CPU, ``F.normalize`` over dim 1 of a channels-first video tensor was 39% of the
    whole decoder's time; this form is 11x faster for that op and differs by ~1e-7.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = 1 if self.channel_first else -1
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        normalized = (xf * torch.rsqrt(xf.pow(2).sum(dim, keepdim=True).clamp_min(1e-24))).to(x.dtype)
        return normalized * self.scale * self.gamma + self.bias


class FastWanCausalConv3d(WanCausalConv3d):
    """diffusers' ``WanCausalConv3d`` with the same parameters and maths; the spatial zero
    padding is left to the convolution instead of an ``F.pad`` copy of the whole input.

    Only the causal time padding (what the feature cache does not cover) is materialised.
    On CPU the padded copies (``fill_`` + ``copy_``) were about 18% of the decoder's time.
    """

    def forward(self, x: torch.Tensor, cache_x: torch.Tensor | None = None) -> torch.Tensor:
        time_pad = self._padding[4]
        if cache_x is not None and time_pad > 0:
            x = torch.cat([cache_x.to(x.device), x], dim=2)
            time_pad -= cache_x.shape[2]
        if time_pad > 0:
            x = F.pad(x, (0, 0, 0, 0, time_pad, 0))
        spatial = (0, self._padding[2], self._padding[0])
        return F.conv3d(x, self.weight, self.bias, self.stride, spatial, self.dilation, self.groups)


def build_vae(spec: ModelSpec) -> AutoencoderKLWan:
    """The spec's ``AutoencoderKLWan`` with freshly initialised weights (its RMS norms and
    causal convolutions swapped for :class:`FastWanRMSNorm` and :class:`FastWanCausalConv3d`,
    same parameters)."""
    vae = AutoencoderKLWan(**spec.vae)
    for module in vae.modules():
        if type(module) is WanRMS_norm:
            module.__class__ = FastWanRMSNorm
        elif type(module) is WanCausalConv3d:
            module.__class__ = FastWanCausalConv3d
    return vae


class ActionEmbedder(nn.Module):
    """Per-latent-frame action embeddings.

    Input: actions ``(B, T, A)`` float with ``T`` a multiple of ``temporal_factor``.
    Output: ``(emb_D, emb_3D)`` of shapes ``(B, 1 + T / tf, D)`` and ``(B, 1 + T / tf, 3D)``;
    row 0 (the conditioning latent frame) is zero.
    """

    def __init__(self, action_dim: int, temporal_factor: int, hidden: int, model_dim: int) -> None:
        super().__init__()
        self.action_dim = action_dim
        self.temporal_factor = temporal_factor
        fan_in = action_dim * temporal_factor
        self.to_timestep = nn.Sequential(
            nn.Linear(fan_in, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, model_dim)
        )
        self.to_adaln = nn.Sequential(
            nn.Linear(fan_in, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, 3 * model_dim)
        )

    def forward(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, a = actions.shape
        grouped = actions.reshape(b, t // self.temporal_factor, self.temporal_factor * a)
        emb_d, emb_3d = self.to_timestep(grouped), self.to_adaln(grouped)
        pad_d = emb_d.new_zeros(b, 1, emb_d.shape[-1])
        pad_3d = emb_3d.new_zeros(b, 1, emb_3d.shape[-1])
        return torch.cat([pad_d, emb_d], 1), torch.cat([pad_3d, emb_3d], 1)


def _modulate(norm: nn.Module, x: torch.Tensor, emb: torch.Tensor, temb: torch.Tensor, n: int):
    """adaLN of a diffusers ``CosmosAdaLayerNorm(Zero)`` applied per latent frame.

    x: (B, F*HW, D); emb: (B, F, D); temb: (B, F, n*D). Returns the modulated x (and gate
    when n == 3) with the per-frame shift/scale/gate broadcast over that frame's tokens.
    """
    mod = norm.linear_2(norm.linear_1(norm.activation(emb)))  # (B, F, nD)
    mod = mod + temb[..., : mod.shape[-1]]
    b, f, _ = mod.shape
    parts = [p.unsqueeze(2) for p in mod.chunk(n, dim=-1)]  # each (B, F, 1, D)
    xn = norm.norm(x).unflatten(1, (f, -1))  # (B, F, HW, D)
    xn = (xn * (1 + parts[1]) + parts[0]).flatten(1, 2)
    if n == 3:
        return xn, parts[2]
    return xn


def _gated(x: torch.Tensor, gate: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    f = gate.shape[1]
    return x + (gate * out.unflatten(1, (f, -1))).flatten(1, 2)


class ActionConditionedDiT(nn.Module):
    """Cosmos DiT + action embedder + the stored context.

    Attributes:
        transformer: ``diffusers.CosmosTransformer3DModel`` (``in_channels`` = latent + 2).
        action_embed: :class:`ActionEmbedder`.
        context: buffer ``(1, context_tokens, context_dim)``, the (projected) prompt context.
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.transformer = CosmosTransformer3DModel(**spec.transformer)
        cfg = self.transformer.config
        self.model_dim = cfg.num_attention_heads * cfg.attention_head_dim
        if cfg.in_channels != spec.latent_channels + 2:
            raise ValueError(
                f"spec {spec.name!r}: transformer.in_channels must be latent channels + 2 "
                f"(= {spec.latent_channels + 2}), got {cfg.in_channels}"
            )
        self.action_embed = ActionEmbedder(spec.action_dim, spec.temporal_factor, spec.action_hidden, self.model_dim)
        ctx_in = cfg.crossattn_proj_in_channels if cfg.use_crossattn_projection else cfg.text_embed_dim
        if spec.context_dim != ctx_in:
            raise ValueError(f"spec {spec.name!r}: context_dim must be {ctx_in}, got {spec.context_dim}")
        self.register_buffer("context", torch.zeros(1, spec.context_tokens, spec.context_dim))

    # ------------------------------------------------------------------------------------
    def embed_time_and_actions(
        self, sigma: torch.Tensor, actions: torch.Tensor | None, num_frames: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame conditioning.

        sigma: (B,) float (the flow time in [0, 1], the DiT's timestep input).
        actions: (B, T, A) or None (no action embedding: the unconditional branch).
        Returns ``embedded_timestep`` (B, F, D) and ``temb`` (B, F, 3D).

        The small MLPs run one sample at a time: their matmul row count would otherwise
        grow with the batch, which changes CPU kernels and breaks batch = single.
        """
        te = self.transformer.time_embed
        outs_e, outs_t = [], []
        for i in range(sigma.shape[0]):
            proj = te.time_proj(sigma[i : i + 1]).to(self.context.dtype)  # (1, D)
            proj = proj.unsqueeze(1).expand(1, num_frames, -1)
            temb = te.t_embedder(proj[:, :1]).expand(1, num_frames, -1)
            if actions is not None:
                a_d, a_3d = self.action_embed(actions[i : i + 1].to(self.context.dtype))
                if a_d.shape[1] != num_frames:
                    raise ValueError(f"actions give {a_d.shape[1]} latent frames, latents have {num_frames}")
                proj = proj + a_d
                temb = temb + a_3d
            outs_e.append(te.norm(proj))
            outs_t.append(temb)
        return torch.cat(outs_e), torch.cat(outs_t)

    def projected_context(self) -> torch.Tensor:
        """(1, L, text_embed_dim): the stored context, through the cross-attn projection if any."""
        ctx = self.context
        if self.transformer.config.use_crossattn_projection:
            ctx = self.transformer.crossattn_proj(ctx)
        return ctx

    def forward(
        self,
        latents: torch.Tensor,
        cond_mask: torch.Tensor,
        sigma: torch.Tensor,
        actions: torch.Tensor | None,
    ) -> torch.Tensor:
        """Predict the flow velocity.

        latents: (B, C, F, h, w); cond_mask: (B, 1, F, h, w) (1 on conditioning frames);
        sigma: (B,) float; actions: (B, (F-1) * tf, A) or None.
        Returns the velocity (B, C, F, h, w) in the dtype of the model.
        """
        tr = self.transformer
        cfg = tr.config
        b, _, f, h, w = latents.shape
        x = torch.cat([latents, cond_mask, torch.zeros_like(cond_mask)], dim=1).to(self.context.dtype)
        rope = tr.rope(x, fps=None)
        extra_pos = tr.learnable_pos_embed(x) if cfg.extra_pos_embed_type else None
        p_t, p_h, p_w = cfg.patch_size
        hs = tr.patch_embed(x).flatten(1, 3)  # (B, N, D)
        emb, temb = self.embed_time_and_actions(sigma, actions, f // p_t)
        ctx = self.projected_context()

        for block in tr.transformer_blocks:
            if extra_pos is not None:
                hs = hs + extra_pos
            xn, gate = _modulate(block.norm1, hs, emb, temb, 3)
            hs = _gated(hs, gate, block.attn1(xn, image_rotary_emb=rope))
            xn, gate = _modulate(block.norm2, hs, emb, temb, 3)
            hs = _gated(hs, gate, _cross_attention(block.attn2, xn, ctx))
            xn, gate = _modulate(block.norm3, hs, emb, temb, 3)
            hs = _gated(hs, gate, block.ff(xn))

        hs = _modulate(tr.norm_out, hs, emb, temb, 2)
        hs = tr.proj_out(hs)
        # unpatchify exactly as diffusers does
        hs = hs.unflatten(2, (p_h, p_w, p_t, -1))
        hs = hs.unflatten(1, (f // p_t, h // p_h, w // p_w))
        hs = hs.permute(0, 7, 1, 6, 2, 4, 3, 5)
        return hs.flatten(6, 7).flatten(4, 5).flatten(2, 3)


def _cross_attention(attn: nn.Module, x: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
    """Cross-attention of a diffusers ``Attention`` (Cosmos flavour: RMS qk-norm) over a
    context shared by the whole batch: keys/values are computed once for ``ctx`` (1, L, C)
    and broadcast, so the result does not depend on the batch size."""
    b, n, _ = x.shape
    heads = attn.heads
    q = attn.to_q(x).unflatten(2, (heads, -1)).transpose(1, 2)  # (B, H, N, d)
    k = attn.to_k(ctx).unflatten(2, (heads, -1)).transpose(1, 2)  # (1, H, L, d)
    v = attn.to_v(ctx).unflatten(2, (heads, -1)).transpose(1, 2)
    q, k = attn.norm_q(q), attn.norm_k(k)
    k, v = k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1)
    out = F.scaled_dot_product_attention(q, k, v)
    out = out.transpose(1, 2).flatten(2, 3).type_as(x)
    return attn.to_out[1](attn.to_out[0](out))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
