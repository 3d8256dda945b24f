"""The tokenizer: frames <-> the DiT's normalised latents through the spec's Wan VAE.

* :func:`vae_encode_first_frames` / :func:`vae_decode` — the Wan VAE's encode and decode
  loops with the feature cache held in local variables: diffusers' ``AutoencoderKLWan``
  keeps it on the module (``_feat_map``, ``_conv_idx``), so two threads in one VAE corrupt
  each other; these functions share only the (read-only) weights.
* :class:`LatentNormalizer` — the VAE latent mean and 1/std, held in bf16 as the reference
  tokenizer holds them (the trainer normalises with it too).
* :class:`Tokenizer` — what the engine calls: uint8 frames in and out, in fixed-size tiles.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from diffusers import AutoencoderKLWan
from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d
from torch import nn

from .specs import ModelSpec


def _causal_conv_count(module: nn.Module) -> int:
    return sum(isinstance(m, WanCausalConv3d) for m in module.modules())


def vae_encode_first_frames(vae: AutoencoderKLWan, x: torch.Tensor) -> torch.Tensor:
    """Latent means of single frames, without touching the VAE's own cache attributes.

    x: (B, 3, 1, H, W) in [-1, 1], the VAE's dtype. Returns (B, z_dim, 1, h, w) in the VAE's
    dtype: the mode of the posterior (what ``vae.encode(x).latent_dist.mode()`` gives).
    """
    if x.shape[2] != 1:
        raise ValueError(
            f"vae_encode_first_frames takes one frame per row: expected (B, 3, 1, H, W), got {tuple(x.shape)}"
        )
    cache = [None] * _causal_conv_count(vae.encoder)
    out = vae.encoder(x, feat_cache=cache, feat_idx=[0])
    return vae.quant_conv(out)[:, : vae.config.z_dim]


def vae_encode_clip(vae: AutoencoderKLWan, x: torch.Tensor) -> torch.Tensor:
    """Latent means of clips, as ``vae.encode(x).latent_dist.mode()`` computes them (the first
    frame alone, then the rest four at a time through the causal cache), the cache local.

    x: (B, 3, T, H, W) in [-1, 1], the VAE's dtype. Returns (B, z_dim, F, h, w)."""
    cache = [None] * _causal_conv_count(vae.encoder)
    outs = [vae.encoder(x[:, :, :1], feat_cache=cache, feat_idx=[0])]
    for i in range(1, x.shape[2], 4):
        outs.append(vae.encoder(x[:, :, i : i + 4], feat_cache=cache, feat_idx=[0]))
    return vae.quant_conv(torch.cat(outs, 2))[:, : vae.config.z_dim]


def vae_decode(vae: AutoencoderKLWan, z: torch.Tensor) -> torch.Tensor:
    """Decode latents frame by frame through the causal decoder, the feature cache local.

    z: (B, z_dim, F, h, w) un-normalised latents in the VAE's dtype. Returns
    (B, 3, 1 + tf * (F - 1), H, W) in [-1, 1], the VAE's dtype (``vae.decode(z).sample``).
    """
    cache = [None] * _causal_conv_count(vae.decoder)
    x = vae.post_quant_conv(z)
    outs = []
    for i in range(z.shape[2]):
        outs.append(vae.decoder(x[:, :, i : i + 1], feat_cache=cache, feat_idx=[0], first_chunk=i == 0))
    return torch.cat(outs, 2).clamp(-1.0, 1.0)


class LatentNormalizer:
    """Maps raw VAE latents to the DiT's normalised latents and back.

    The constants come from the VAE config (``latents_mean``, ``latents_std``, first
    ``channels`` entries) and are held as the reference tokenizer holds them: ``mean`` and
    ``inv_std = 1 / std`` computed and stored in bf16 (up to 0.4% per channel from fp32),
    then used in fp32: ``normalize(z) = (z - mean) * inv_std``,
    ``denormalize(z) = z / inv_std + mean``.

    Attributes:
        mean, inv_std: (1, channels, 1, 1, 1) float32 tensors.
    """

    def __init__(self, latents_mean, latents_std, channels: int, device=None) -> None:
        mean = torch.tensor(list(latents_mean)[:channels], dtype=torch.bfloat16)
        std = torch.tensor(list(latents_std)[:channels], dtype=torch.bfloat16)
        shape = (1, channels, 1, 1, 1)
        self.mean = mean.float().view(shape).to(device)
        self.inv_std = (1.0 / std).float().view(shape).to(device)

    @classmethod
    def of(cls, vae: AutoencoderKLWan, channels: int, device=None) -> LatentNormalizer:
        return cls(vae.config.latents_mean, vae.config.latents_std, channels, device)

    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        """Raw latents (B, C, F, h, w) -> normalised, float32."""
        return (z.float() - self.mean) * self.inv_std

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        """Normalised latents (B, C, F, h, w) -> raw, float32."""
        return z.float() / self.inv_std + self.mean


class Tokenizer:
    """Frames <-> normalised latents for one spec, the VAE called in tiles of ``tile`` rows.

    With ``pad`` every VAE call gets exactly ``tile`` rows (zero-padded): CPU conv kernels
    depend on the batch size, but with one fixed shape a row's result depends neither on its
    position in the tile nor on the other rows (tested at every position), so a row's bytes do
    not depend on the batch. ``map_spans(fn, n, size)`` runs ``fn(lo, hi)`` over spans of the
    rows and returns the results in order (the engine's row workers, or a plain loop).

    Args:
        vae: the spec's ``AutoencoderKLWan`` (on ``device``, in ``dtype``).
        spec: gives the latent channels and the pixel quantisation.
        device, dtype: where and in what the VAE runs.
        tile: rows per VAE call. pad: pad every call to ``tile`` rows.
        map_spans: the executor (the engine's row workers, or a loop in the calling thread).
    """

    def __init__(
        self,
        vae: AutoencoderKLWan,
        spec: ModelSpec,
        *,
        device: torch.device,
        dtype: torch.dtype,
        tile: int = 4,
        pad: bool = True,
        map_spans: Callable,
    ) -> None:
        self.vae, self.spec, self.device, self.dtype = vae, spec, device, dtype
        self.tile, self.pad = tile, pad
        self.latents = LatentNormalizer.of(vae, spec.latent_channels, device)
        self._map_spans = map_spans

    def _tiles(self, fn, x: torch.Tensor) -> torch.Tensor:
        step = self.tile

        def tile(lo, hi):
            part = x[lo:hi]
            if self.pad and hi - lo < step:
                part = torch.cat([part, part.new_zeros((step - (hi - lo), *part.shape[1:]))])
            return fn(part.contiguous())[: hi - lo]

        return torch.cat(self._map_spans(tile, x.shape[0], step))

    @torch.no_grad()
    def encode(self, frames: np.ndarray) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> normalised latents (B, C, 1, h, w) float32."""
        # torch.from_numpy wants a writeable array: frames from a PIL image or a memory map are copied
        x = torch.from_numpy(np.require(frames, requirements=("C", "W"))).to(self.device)
        x = x.permute(0, 3, 1, 2).unsqueeze(2).to(self.dtype) / 127.5 - 1.0
        return self.latents.normalize(self._tiles(lambda p: vae_encode_first_frames(self.vae, p), x))

    @torch.no_grad()
    def encode_still(self, frames: np.ndarray) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> normalised latents (B, C, F, h, w) float32 of each frame held
        still for a chunk (1 + chunk_size copies): latent frames 1.. are what a chunk's predicted
        frames look like in latent space when the scene stops there (frame 0 alone is not)."""
        x = torch.from_numpy(np.require(frames, requirements=("C", "W"))).to(self.device)
        x = x.permute(0, 3, 1, 2).unsqueeze(2).to(self.dtype) / 127.5 - 1.0
        clip = x.expand(-1, -1, 1 + self.spec.chunk_size, -1, -1).contiguous()
        return self.latents.normalize(self._tiles(lambda p: vae_encode_clip(self.vae, p), clip))

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Normalised latents (B, C, F, h, w) -> frames (B, 1 + tf * (F - 1), H, W, 3) uint8,
        quantised as the spec's ``pixel_quantization`` says."""
        z = self.latents.denormalize(latents).to(self.dtype)
        x = (self._tiles(lambda p: vae_decode(self.vae, p), z).float() + 1.0) * 127.5
        x = x.round() if self.spec.pixel_quantization == "round" else x.trunc()
        return x.clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 4, 1).cpu().numpy()
