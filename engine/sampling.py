"""The rectified-flow sampler: UniPC schedule, per-candidate noise, one chunk's denoising loop.

The schedule reproduces the reference DreamDojo sampler exactly with diffusers'
``UniPCMultistepScheduler`` (flow sigmas, flow prediction, order 2, final sigma zero) and
explicit sigmas ``linspace(sigma_max, 0, num_steps + 1)[:-1]`` shifted by ``shift``.

Conditioning: latent frame 0 holds the start frame. Every step it is replaced by the clean
conditioning latent, marked with 1 in the condition-mask channel, and its velocity is
replaced by the exact one (``noise - cond``), so the solver never moves it.

Timestep: the network gets the scheduler's integer timestep scaled back,
``int64(1000 * sigma) * 0.001`` in float32 (what the reference hands its network; up to 1e-3
from the exact sigma), while the solver itself steps with the exact sigmas.

Guidance: with ``guidance == 0`` only the conditional pass runs. Otherwise the
unconditional branch is the same call *without the action embedding* (same start frame,
same context), and ``v = v_cond + guidance * (v_cond - v_uncond)`` (Cosmos' convention, so
0 means "no guidance").
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import UniPCMultistepScheduler

from .networks import ActionConditionedDiT
from .validation import reference_noise_seed


def make_scheduler(num_steps: int, shift: float, sigma_max: float = 0.999) -> UniPCMultistepScheduler:
    """A fresh UniPC flow scheduler set to ``num_steps`` steps (it is stateful: one per chunk)."""
    sched = UniPCMultistepScheduler(
        use_flow_sigmas=True,
        prediction_type="flow_prediction",
        flow_shift=float(shift),
        solver_order=2,
        final_sigmas_type="zero",
    )
    sched.set_timesteps(sigmas=np.linspace(sigma_max, 0.0, num_steps + 1)[:-1])
    # From about 250 steps on, the first two integer timesteps coincide and UniPC, left to find
    # its start by timestep, starts at index 1 and fails an assertion on the last step. The
    # loop always starts at step 0: below that count this changes nothing.
    sched.set_begin_index(0)
    return sched


def reference_sigmas(num_steps: int, shift: float, sigma_max: float = 0.999) -> np.ndarray:
    """The reference schedule written out: shifted linear sigmas plus a final zero, float64."""
    s = np.linspace(sigma_max, 0.0, num_steps + 1)[:-1]
    s = shift * s / (1 + (shift - 1) * s)
    return np.append(s, 0.0)


def chunk_seed(seed: int, chunk_index: int) -> int:
    """The 63-bit generator seed of one candidate's chunk, derived from (seed, chunk)."""
    state = np.random.SeedSequence([int(seed), int(chunk_index)]).generate_state(2, np.uint32)
    return (int(state[0]) << 31 | int(state[1]) >> 1) & ((1 << 63) - 1)


def chunk_noise(
    seeds: list[int],
    chunk_indices: list[int],
    shape: tuple[int, ...],
    *,
    scheme: str = "per-candidate",
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Noise (B, *shape) float32 on CPU. Row b depends only on (seeds[b], chunk_indices[b]),
    never on the batch.

    ``"per-candidate"``: a torch generator seeded by ``chunk_seed(seed, chunk)``.
    ``"reference"``: ``np.random.RandomState(seed + chunk * chunk_size).standard_normal((1,
    *shape))`` cast to float32, as the DreamDojo rollout script draws a chunk's noise.
    """
    out = torch.empty((len(seeds), *shape), dtype=torch.float32)
    for b, (s, c) in enumerate(zip(seeds, chunk_indices, strict=True)):
        if scheme == "per-candidate":
            g = torch.Generator().manual_seed(chunk_seed(s, c))
            out[b] = torch.randn(shape, generator=g, dtype=torch.float32)
        elif scheme == "reference":
            if chunk_size is None:
                raise ValueError("the reference noise scheme needs chunk_size")
            rng = np.random.RandomState(reference_noise_seed(s, c, chunk_size))
            out[b] = torch.from_numpy(rng.standard_normal((1, *shape)).astype(np.float32)[0])
        else:
            raise ValueError(f"noise scheme must be 'per-candidate' or 'reference', got {scheme!r}")
    return out


def network_timestep(timestep: torch.Tensor) -> torch.Tensor:
    """The DiT's time input for a scheduler timestep: ``int64(1000 * sigma) * 0.001``, float32."""
    return timestep.to(torch.int64) * 0.001


@torch.no_grad()
def denoise_chunk(
    dit: ActionConditionedDiT,
    cond_latent: torch.Tensor,
    actions: torch.Tensor,
    noise: torch.Tensor,
    *,
    num_steps: int,
    guidance: float,
    shift: float,
    sigma_max: float = 0.999,
    keep_sampled_start: bool = False,
    callback=None,
) -> torch.Tensor:
    """Sample one chunk's latents.

    cond_latent: (B, C, 1, h, w) float32, the normalised start-frame latent.
    actions: (B, chunk_size, A) float32.
    noise: (B, C, F, h, w) float32 with F = 1 + chunk_size / temporal_factor.
    keep_sampled_start: leave latent frame 0 as the solver left it (the reference decodes
        it so) instead of putting the clean ``cond_latent`` back.
    Returns latents (B, C, F, h, w) float32.
    """
    device = cond_latent.device
    sched = make_scheduler(num_steps, shift, sigma_max)
    latents = noise.to(device)
    b, _, f, h, w = latents.shape
    cond_mask = torch.zeros(b, 1, f, h, w, device=device, dtype=torch.float32)
    cond_mask[:, :, 0] = 1.0
    cond_full = torch.zeros_like(latents)
    cond_full[:, :, :1] = cond_latent
    gt_velocity = (latents - cond_full) * cond_mask
    actions = actions.to(device)
    for i, t in enumerate(sched.timesteps):
        sigma = network_timestep(t).to(device).expand(b)
        x_in = cond_mask * cond_full + (1 - cond_mask) * latents
        v = dit(x_in, cond_mask, sigma, actions).float()
        v = gt_velocity + v * (1 - cond_mask)
        if guidance:
            v_u = dit(x_in, cond_mask, sigma, None).float()
            v_u = gt_velocity + v_u * (1 - cond_mask)
            v = v + guidance * (v - v_u)
        latents = sched.step(v, t, latents, return_dict=False)[0]
        if callback is not None:
            callback(i, latents)
    if not keep_sampled_start:
        latents[:, :, :1] = cond_latent
    return latents
