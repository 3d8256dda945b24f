"""The network's and sampler's function follows the reference DreamDojo code (NVIDIA/DreamDojo,
vendored cosmos_predict2), one test per measured difference (REFERENCE.md)."""

import numpy as np
import pytest
import torch

from engine import Engine, get_spec
from engine.networks import QK_NORM_EPS
from engine.sampling import chunk_noise, denoise_chunk, make_scheduler
from engine.tokenizer import LatentNormalizer


def test_attention_qk_rmsnorm_epsilon_is_the_references(tiny):
    assert QK_NORM_EPS == 1e-6
    for block in tiny.dit.transformer.transformer_blocks:
        for attn in (block.attn1, block.attn2):
            assert attn.norm_q.eps == attn.norm_k.eps == 1e-6


class _RecordingDiT(torch.nn.Module):
    """Stands in for the DiT: records the time input, returns a zero velocity."""

    def __init__(self):
        super().__init__()
        self.times = []

    def forward(self, x, mask, sigma, actions):
        self.times.append(sigma.clone())
        return torch.zeros_like(x)


def test_network_gets_the_integer_timestep_scaled_back_not_the_exact_sigma():
    dit = _RecordingDiT()
    cond = torch.zeros(2, 4, 1, 2, 2)
    noise = torch.randn(2, 4, 3, 2, 2)
    denoise_chunk(dit, cond, torch.zeros(2, 4, 2), noise, num_steps=35, guidance=0.0, shift=5.0)
    sched = make_scheduler(35, 5.0)
    expected = (sched.sigmas[:-1].double() * 1000).long() * 0.001  # int64(1000 * sigma) * 0.001
    got = torch.stack([t[0] for t in dit.times])
    assert got.dtype == torch.float32 and torch.equal(got, expected.float())
    assert (got.double() - sched.sigmas[:-1].double()).abs().max() > 1e-4  # not the exact sigma


def test_latent_mean_and_inverse_std_are_held_in_bf16():
    mean, std = [0.123456789, -1.5], [2.8184, 1.4541]
    norm = LatentNormalizer(mean, std, 2)
    bf = torch.tensor(std, dtype=torch.bfloat16)
    assert torch.equal(norm.mean.flatten(), torch.tensor(mean, dtype=torch.bfloat16).float())
    assert torch.equal(norm.inv_std.flatten(), (1.0 / bf).float())
    z = torch.randn(1, 2, 1, 3, 3)
    assert torch.equal(norm.normalize(z), (z - norm.mean) * norm.inv_std)
    assert torch.equal(norm.denormalize(z), z / norm.inv_std + norm.mean)


def test_bf16_engine_keeps_time_embedding_modulations_and_final_layer_in_fp32(frame, actions):
    eng = Engine.load("tiny-random", dtype="bfloat16")
    islands = eng.dit.fp32_submodules()
    assert all(p.dtype == torch.float32 for m in islands for p in m.parameters())
    block = eng.dit.transformer.transformer_blocks[0]
    assert block.attn1.to_q.weight.dtype == torch.bfloat16 and block.ff.net[2].weight.dtype == torch.bfloat16
    emb, temb = eng.dit.embed_time_and_actions(torch.tensor([0.5]), torch.zeros(1, 4, 2), 3)
    assert emb.dtype == temb.dtype == torch.float32
    # the fp32 weights were rounded through bf16, as the reference's bf16 model holds them
    w = eng.dit.transformer.proj_out.weight
    assert torch.equal(w, w.bfloat16().float())
    r = eng.predict(frame, actions, seed=0)
    assert r.frames.shape == (actions.shape[0], 32, 32, 3)


def test_pixel_quantization_truncates_or_rounds(frame):
    lat = torch.randn(2, 8, 3, 8, 8)
    rounded = Engine.load("tiny-random").decode(lat).astype(int)
    truncated = Engine.load(get_spec("tiny-random").replace(pixel_quantization="truncate")).decode(lat).astype(int)
    diff = rounded - truncated
    assert set(np.unique(diff)) <= {0, 1} and 0.3 < diff.mean() < 0.7  # about half the values go one level up


def test_reference_noise_is_numpy_randomstate_at_the_chunks_first_action_index():
    shape = (4, 3, 2, 2)
    got = chunk_noise([0, 7], [2, 1], shape, scheme="reference", chunk_size=12)
    assert torch.equal(got[0], torch.from_numpy(np.random.RandomState(24).standard_normal((1, *shape))[0]).float())
    assert torch.equal(got[1], torch.from_numpy(np.random.RandomState(19).standard_normal((1, *shape))[0]).float())


def test_reference_noise_in_a_rollout_and_its_seed_range(frame, actions):
    spec = get_spec("tiny-random").replace(noise="reference")
    eng = Engine.load(spec)
    a = eng.predict(frame, actions, seed=0)
    b = eng.predict(frame, actions, seed=spec.chunk_size)  # seed cs starts where seed 0's chunk 1 starts
    assert not np.array_equal(a.frames, b.frames)
    with pytest.raises(ValueError, match="below 2\\*\\*32"):
        eng.predict(frame, actions, seed=2**32 - 1)


def test_sampled_start_latent_is_what_the_solver_left_there():
    class Drift(_RecordingDiT):
        def forward(self, x, mask, sigma, actions):
            return torch.full_like(x, 0.5)  # a velocity the conditioning frame does not get

    cond = torch.ones(1, 4, 1, 2, 2)
    noise = torch.randn(1, 4, 3, 2, 2)
    kw = dict(num_steps=4, guidance=0.0, shift=3.0)
    clean = denoise_chunk(Drift(), cond, torch.zeros(1, 4, 2), noise, **kw)
    sampled = denoise_chunk(Drift(), cond, torch.zeros(1, 4, 2), noise, keep_sampled_start=True, **kw)
    assert torch.equal(clean[:, :, :1], cond)
    assert not torch.equal(sampled[:, :, :1], cond) and torch.equal(sampled[:, :, 1:], clean[:, :, 1:])


def test_the_gr1_spec_uses_the_references_options():
    spec = get_spec("dreamdojo-2b-gr1")
    assert (spec.noise, spec.pixel_quantization, spec.decode_start_latent) == ("reference", "truncate", "sampled")
    assert get_spec("push-64").decode_start_latent == "sampled"  # measured: indistinguishable, so as the reference


@pytest.mark.parametrize(
    "field, value", [("noise", "numpy"), ("pixel_quantization", "floor"), ("decode_start_latent", "drifted")]
)
def test_spec_rejects_unknown_reference_options(field, value):
    with pytest.raises(ValueError, match=field):
        get_spec("tiny-random").replace(**{field: value})
