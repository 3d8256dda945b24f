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
  of expanding it to every token (about 8% fewer FLOPs at full size), and to take the
  cross-attention keys/values of the constant context precomputed (:meth:`context_kv`). With equal
  embeddings in every frame it reproduces the diffusers forward (tested). Two settings
  follow the reference network rather than diffusers' defaults: the attention q/k RMSNorm
  epsilon is 1e-6, and under a bf16/fp16 model the time embedding, the adaLN modulations and
  the final layer run in fp32 (:meth:`ActionConditionedDiT.fp32_submodules`), the blocks in
  the model dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKLWan, CosmosTransformer3DModel
from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d, WanRMS_norm
from torch import nn

from .specs import ModelSpec

QK_NORM_EPS = 1e-6  # the reference's attention q/k RMSNorm epsilon (diffusers' default is 1e-5)


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


def _modulate(norm: nn.Module, x: torch.Tensor, act_emb: torch.Tensor, temb: torch.Tensor, n: int):
    """adaLN of a diffusers ``CosmosAdaLayerNorm(Zero)`` applied per latent frame.

    x: (B, F*HW, D); act_emb: (B, F, D), the embedding through the norm's activation (SiLU,
    the same for every norm, so computed once per call); temb: (B, F, n*D). Returns the
    modulated x (and gate when n == 3) with the per-frame shift/scale/gate broadcast over
    that frame's tokens.
    """
    mod = norm.linear_2(norm.linear_1(act_emb))  # (B, F, nD), in the embeddings' fp32
    mod = mod + temb[..., : mod.shape[-1]]
    b, f, _ = mod.shape
    parts = [p.unsqueeze(2).to(x.dtype) for p in mod.chunk(n, dim=-1)]  # each (B, F, 1, D)
    ln = norm.norm
    xn = F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps).unflatten(1, (f, -1))  # (B, F, HW, D)
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
        for block in self.transformer.transformer_blocks:
            for attn in (block.attn1, block.attn2):
                attn.norm_q.eps = attn.norm_k.eps = QK_NORM_EPS
        for norm in self.adaln_norms():
            if not isinstance(norm.activation, nn.SiLU):
                raise TypeError(f"expected SiLU adaLN activations, got {type(norm.activation).__name__}")

    def adaln_norms(self) -> list[nn.Module]:
        """Every adaLN modulation: three per block and the final layer's."""
        tr = self.transformer
        return [n for b in tr.transformer_blocks for n in (b.norm1, b.norm2, b.norm3)] + [tr.norm_out]

    def fp32_submodules(self) -> list[nn.Module]:
        """The parts the reference runs in fp32 when the blocks run in bf16: the time
        embedding, every adaLN modulation and the final layer (norm and projection)."""
        return [self.transformer.time_embed, *self.adaln_norms(), self.transformer.proj_out]

    # ------------------------------------------------------------------------------------
    def embed_time_and_actions(
        self, sigma: torch.Tensor, actions: torch.Tensor | None, num_frames: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame conditioning.

        sigma: (B,) float (the flow time in [0, 1], the DiT's timestep input).
        actions: (B, T, A) or None (no action embedding: the unconditional branch).
        Returns ``embedded_timestep`` (B, F, D) and ``temb`` (B, F, 3D), float32 (the action
        MLPs run in the model dtype, the time embedding in fp32, as in the reference).

        The small MLPs run one sample at a time: their matmul row count would otherwise
        grow with the batch, which changes CPU kernels and breaks batch = single.
        """
        te = self.transformer.time_embed
        outs_e, outs_t = [], []
        for i in range(sigma.shape[0]):
            proj = te.time_proj(sigma[i : i + 1].float()).float()  # (1, D)
            proj = proj.unsqueeze(1).expand(1, num_frames, -1)
            temb = te.t_embedder(proj[:, :1]).expand(1, num_frames, -1)
            if actions is not None:
                a_d, a_3d = (a.float() for a in self.action_embed(actions[i : i + 1].to(self.context.dtype)))
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

    def context_kv(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per block, the cross-attention keys and values (1, H, L, d) of the stored context."""
        ctx = self.projected_context()
        return [context_keys_values(block.attn2, ctx) for block in self.transformer.transformer_blocks]

    def forward(
        self,
        latents: torch.Tensor,
        cond_mask: torch.Tensor,
        sigma: torch.Tensor,
        actions: torch.Tensor | None,
        context_kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """Predict the flow velocity.

        latents: (B, C, F, h, w); cond_mask: (B, 1, F, h, w) (1 on conditioning frames);
        sigma: (B,) float; actions: (B, (F-1) * tf, A) or None.
        context_kv: :meth:`context_kv`, if already computed (it depends only on the weights).
        Returns the velocity (B, C, F, h, w) in the dtype of the model.
        """
        tr = self.transformer
        cfg = tr.config
        b, _, f, h, w = latents.shape
        x = torch.cat([latents, cond_mask, torch.zeros_like(cond_mask)], dim=1).to(self.context.dtype)
        cos, sin = (t[None, None].float() for t in tr.rope(x, fps=None))  # (1, 1, N, d)
        extra_pos = tr.learnable_pos_embed(x) if cfg.extra_pos_embed_type else None
        p_t, p_h, p_w = cfg.patch_size
        hs = tr.patch_embed(x).flatten(1, 3)  # (B, N, D)
        emb, temb = self.embed_time_and_actions(sigma, actions, f // p_t)
        if context_kv is None:
            context_kv = self.context_kv()

        act_emb = F.silu(emb)  # every adaLN norm's activation (checked in __init__)
        for block, kv in zip(tr.transformer_blocks, context_kv, strict=True):
            if extra_pos is not None:
                hs = hs + extra_pos
            xn, gate = _modulate(block.norm1, hs, act_emb, temb, 3)
            hs = _gated(hs, gate, _self_attention(block.attn1, xn, cos, sin))
            xn, gate = _modulate(block.norm2, hs, act_emb, temb, 3)
            hs = _gated(hs, gate, _cross_attention(block.attn2, xn, kv))
            xn, gate = _modulate(block.norm3, hs, act_emb, temb, 3)
            hs = _gated(hs, gate, _feed_forward(block.ff, xn))

        hs = _modulate(tr.norm_out, hs.float(), act_emb, temb, 2)  # the final layer in fp32
        hs = tr.proj_out(hs.to(tr.proj_out.weight.dtype))
        # unpatchify exactly as diffusers does
        hs = hs.unflatten(2, (p_h, p_w, p_t, -1))
        hs = hs.unflatten(1, (f // p_t, h // p_h, w // p_w))
        hs = hs.permute(0, 7, 1, 6, 2, 4, 3, 5)
        return hs.flatten(6, 7).flatten(4, 5).flatten(2, 3)


def _rms_norm(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """diffusers' ``RMSNorm.forward`` maths (fp32 statistics), without the module call."""
    y = x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + norm.eps)
    w = norm.weight
    if w is None:
        return y.to(x.dtype)
    if w.dtype in (torch.float16, torch.bfloat16):
        y = y.to(w.dtype)
    return y * w


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    return x.unflatten(2, (heads, -1)).transpose(1, 2)  # (B, N, H*d) -> (B, H, N, d)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Cosmos RoPE (diffusers' ``apply_rotary_emb(use_real=True, use_real_unbind_dim=-2)``).
    x: (B, H, N, d); cos, sin: (1, 1, N, d) float32."""
    x_real, x_imag = x.reshape(*x.shape[:-1], 2, -1).unbind(-2)
    rotated = torch.cat([-x_imag, x_real], dim=-1)
    return (x.float() * cos + rotated.float() * sin).to(x.dtype)


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Scaled dot-product attention; under CPU autocast with gradients (bf16 training) it runs
    in fp32, where oneDNN's bf16 attention backward was 1.9x slower than fp32's on this CPU."""
    if q.requires_grad and q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            return F.scaled_dot_product_attention(q.float(), k.float(), v.float())
    return F.scaled_dot_product_attention(q, k, v)


def _self_attention(attn: nn.Module, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Self-attention of a diffusers Cosmos ``Attention`` (the maths of its
    ``CosmosAttnProcessor2_0``: q/k RMSNorm, RoPE on q and k, SDPA), called without the
    processor machinery, whose per-call overhead was a third of a push-64 DiT call."""
    heads = attn.heads
    q = _rotate(_rms_norm(attn.norm_q, _heads(attn.to_q(x), heads)), cos, sin)
    k = _rotate(_rms_norm(attn.norm_k, _heads(attn.to_k(x), heads)), cos, sin)
    v = _heads(attn.to_v(x), heads)
    out = _sdpa(q, k, v)
    return attn.to_out[0](out.transpose(1, 2).flatten(2, 3).type_as(q))


def _feed_forward(ff: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """diffusers' ``FeedForward`` (GELU projection, dropout 0, linear) without the module calls."""
    gelu, out = ff.net[0], ff.net[2]
    return out(F.gelu(gelu.proj(x), approximate=gelu.approximate))


def context_keys_values(attn: nn.Module, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-attention keys and values (1, H, L, d) of a context (1, L, C): a constant of the
    model, computed once per call instead of once per row."""
    k = _rms_norm(attn.norm_k, _heads(attn.to_k(ctx), attn.heads))
    return k, _heads(attn.to_v(ctx), attn.heads)


def _cross_attention(attn: nn.Module, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Cross-attention over a context shared by the whole batch: the keys/values ``kv`` from
    :func:`context_keys_values` are broadcast, so the result does not depend on the batch."""
    b = x.shape[0]
    q = _rms_norm(attn.norm_q, _heads(attn.to_q(x), attn.heads))
    k, v = (t.expand(b, -1, -1, -1) for t in kv)
    out = _sdpa(q, k, v)
    return attn.to_out[0](out.transpose(1, 2).flatten(2, 3).type_as(x))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
