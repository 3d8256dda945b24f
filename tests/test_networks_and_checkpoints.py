"""Networks built from diffusers blocks; our checkpoint format; the reference importer."""

import numpy as np
import pytest
import torch

from engine import Engine, get_spec, load_checkpoint, save_checkpoint
from engine.checkpoints import build_modules, random_modules, with_latent_stats
from engine.networks import count_parameters
from engine.reference import convert_reference_state_dict, import_reference_checkpoint


def test_forward_without_actions_equals_the_diffusers_forward():
    spec = get_spec("tiny-random")
    _, dit = random_modules(spec)
    b, f = 2, spec.latent_frames_per_chunk
    h, w = spec.latent_size
    lat = torch.randn(b, spec.latent_channels, f, h, w)
    mask = torch.zeros(b, 1, f, h, w)
    mask[:, :, 0] = 1
    sigma = torch.tensor([0.3, 0.8])
    with torch.no_grad():
        ours = dit(lat, mask, sigma, None)
        ref = dit.transformer(
            torch.cat([lat, mask, torch.zeros_like(mask)], 1),
            sigma,
            dit.context.expand(b, -1, -1),
            return_dict=False,
        )[0]
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_conditioning_frame_gets_a_zero_action_embedding():
    _, dit = random_modules(get_spec("tiny-random"))
    e_d, e_3d = dit.action_embed(torch.ones(1, 4, 2))
    assert e_d.shape[1] == 3 and torch.all(e_d[:, 0] == 0) and torch.all(e_3d[:, 0] == 0)
    assert torch.any(e_d[:, 1] != 0)


def test_checkpoint_round_trip_is_exact(tmp_path):
    spec = get_spec("tiny-random")
    vae, dit = random_modules(spec)
    path = save_checkpoint(tmp_path / "ckpt", spec, vae, dit, {"note": "test"})
    spec2, vae2, dit2 = load_checkpoint(path)
    assert spec2 == with_latent_stats(spec, vae)
    for a, b in ((vae, vae2), (dit, dit2)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_engine_from_checkpoint_predicts_the_same_bytes(tiny, frame, actions, tmp_path):
    path = tiny.save(tmp_path / "ckpt")
    again = Engine.load(path)
    assert again.predict(frame, actions, seed=4).mp4_bytes() == tiny.predict(frame, actions, seed=4).mp4_bytes()


def test_overwriting_a_checkpoint_is_atomic(tmp_path, monkeypatch):
    spec = get_spec("tiny-random")
    vae, dit = random_modules(spec)
    path = save_checkpoint(tmp_path / "ckpt", spec, vae, dit)
    before = (path / "transformer.safetensors").read_bytes()
    import engine.checkpoints as ck

    def fail(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ck, "save_file", fail)
    with pytest.raises(OSError):
        save_checkpoint(path, spec, vae, dit)
    assert (path / "transformer.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_latent_normalisation_survives_save_and_load(tmp_path, frame):
    """The VAE's latent mean/std live in its config, not its state dict: a checkpoint must
    carry them (losing them once made the trained model predict 7 dB below a still frame)."""
    spec = get_spec("tiny-random")
    vae, dit = random_modules(spec)
    c = spec.latent_channels
    vae.register_to_config(latents_mean=[0.5] * c, latents_std=[2.0] * c)
    path = save_checkpoint(tmp_path / "ckpt", spec, vae, dit)
    eng = Engine.load(path)
    assert eng.vae.config.latents_mean == [0.5] * c and eng.spec.vae["latents_std"] == [2.0] * c
    assert float(eng.latents.inv_std.flatten()[0]) == 0.5
    # a catalog spec given as override keeps the checkpoint's statistics
    eng2 = Engine.load(spec, weights=path)
    assert float(eng2.latents.mean.flatten()[0]) == 0.5


def test_override_spec_must_match_the_stored_networks(tmp_path):
    spec = get_spec("tiny-random")
    vae, dit = random_modules(spec)
    path = save_checkpoint(tmp_path / "ckpt", spec, vae, dit)
    other = spec.replace(action_hidden=64)
    with pytest.raises(ValueError, match="does not match the networks"):
        load_checkpoint(path, other)


def test_missing_checkpoint_files_are_named(tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "spec.json").write_text(get_spec("tiny-random").to_json())
    with pytest.raises(FileNotFoundError, match="vae.safetensors"):
        load_checkpoint(tmp_path / "ckpt")


def test_dreamdojo_without_weights_says_what_to_pass():
    with pytest.raises(FileNotFoundError, match="weights=PATH"):
        Engine.load("dreamdojo-2b-gr1")


def test_unknown_spec_lists_the_catalog():
    with pytest.raises(ValueError, match="tiny-random"):
        Engine.load("no-such-model")


def _reference_state_dict(spec, rng):
    """A state dict with the reference cosmos_predict2 key names, written out by hand."""
    cfg = spec.transformer
    d = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    hd, lora = cfg["attention_head_dim"], cfg["adaln_lora_dim"]
    ff = int(d * cfg["mlp_ratio"])
    p = cfg["patch_size"]
    fan = spec.action_dim * spec.temporal_factor
    shapes = {
        "net.x_embedder.proj.1.weight": (d, cfg["in_channels"] * p[0] * p[1] * p[2]),
        "net.t_embedder.1.linear_1.weight": (d, d),
        "net.t_embedder.1.linear_2.weight": (3 * d, d),
        "net.t_embedding_norm.weight": (d,),
        "net.final_layer.linear.weight": (p[0] * p[1] * p[2] * cfg["out_channels"], d),
        "net.final_layer.adaln_modulation.1.weight": (lora, d),
        "net.final_layer.adaln_modulation.2.weight": (2 * d, lora),
        "net.action_embedder_B_D.fc1.weight": (spec.action_hidden, fan),
        "net.action_embedder_B_D.fc1.bias": (spec.action_hidden,),
        "net.action_embedder_B_D.fc2.weight": (d, spec.action_hidden),
        "net.action_embedder_B_D.fc2.bias": (d,),
        "net.action_embedder_B_3D.fc1.weight": (spec.action_hidden, fan),
        "net.action_embedder_B_3D.fc1.bias": (spec.action_hidden,),
        "net.action_embedder_B_3D.fc2.weight": (3 * d, spec.action_hidden),
        "net.action_embedder_B_3D.fc2.bias": (3 * d,),
        "net.crossattn_proj.0.weight": (spec.context_dim, 24),
        "net.crossattn_proj.0.bias": (spec.context_dim,),
        # training bookkeeping the importer must drop
        "net.accum_video_sample_counter": (),
        "net.pos_embedder.seq": (16,),
    }
    for i in range(cfg["num_layers"]):
        b = f"net.blocks.{i}."
        for attn, kv_in in (("self_attn", d), ("cross_attn", cfg["text_embed_dim"])):
            shapes[b + f"{attn}.q_proj.weight"] = (d, d)
            shapes[b + f"{attn}.k_proj.weight"] = (d, kv_in)
            shapes[b + f"{attn}.v_proj.weight"] = (d, kv_in)
            shapes[b + f"{attn}.output_proj.weight"] = (d, d)
            shapes[b + f"{attn}.q_norm.weight"] = (hd,)
            shapes[b + f"{attn}.k_norm.weight"] = (hd,)
        shapes[b + "mlp.layer1.weight"] = (ff, d)
        shapes[b + "mlp.layer2.weight"] = (d, ff)
        for m in ("self_attn", "cross_attn", "mlp"):
            shapes[b + f"adaln_modulation_{m}.1.weight"] = (lora, d)
            shapes[b + f"adaln_modulation_{m}.2.weight"] = (3 * d, lora)
    g = torch.Generator().manual_seed(rng)
    return {k: torch.randn(s, generator=g) for k, s in shapes.items()}


def test_reference_keys_import_strictly_and_land_in_the_right_modules():
    spec = get_spec("tiny-random")
    ref = _reference_state_dict(spec, 0)
    raw_context = torch.randn(spec.context_tokens, 24)
    vae, dit = import_reference_checkpoint(ref, spec, context=raw_context)
    tr = dit.transformer
    assert torch.equal(tr.transformer_blocks[1].attn2.to_k.weight, ref["net.blocks.1.cross_attn.k_proj.weight"])
    assert torch.equal(
        tr.transformer_blocks[0].norm3.linear_2.weight, ref["net.blocks.0.adaln_modulation_mlp.2.weight"]
    )
    assert torch.equal(tr.transformer_blocks[0].ff.net[2].weight, ref["net.blocks.0.mlp.layer2.weight"])
    assert torch.equal(tr.patch_embed.proj.weight, ref["net.x_embedder.proj.1.weight"])
    assert torch.equal(tr.norm_out.linear_1.weight, ref["net.final_layer.adaln_modulation.1.weight"])
    assert torch.equal(dit.action_embed.to_adaln[2].bias, ref["net.action_embedder_B_3D.fc2.bias"])
    # the raw context was projected with the checkpoint's crossattn_proj (Linear + GELU)
    w, b = ref["net.crossattn_proj.0.weight"], ref["net.crossattn_proj.0.bias"]
    torch.testing.assert_close(dit.context[0], torch.nn.functional.gelu(raw_context @ w.T + b))


def test_reference_import_prefers_ema_weights():
    spec = get_spec("tiny-random")
    ref = _reference_state_dict(spec, 0)
    ema = {k.replace("net.", "net_ema.", 1): v + 1 for k, v in _reference_state_dict(spec, 1).items()}
    out = convert_reference_state_dict({**ref, **ema})
    key = "transformer.transformer_blocks.0.attn1.to_q.weight"
    assert torch.equal(out[key], ema["net_ema.blocks.0.self_attn.q_proj.weight"])


def test_reference_import_rejects_a_missing_key():
    spec = get_spec("tiny-random")
    ref = _reference_state_dict(spec, 0)
    del ref["net.blocks.1.mlp.layer1.weight"]
    with pytest.raises(RuntimeError, match="layer|ff.net.0"):
        import_reference_checkpoint(ref, spec, context=torch.zeros(spec.context_tokens, spec.context_dim))


def test_reference_file_is_loaded_without_unpickling(tmp_path):
    spec = get_spec("tiny-random")
    path = tmp_path / "model.pt"
    torch.save({"model": _reference_state_dict(spec, 0)}, path)
    vae, dit = import_reference_checkpoint(path, spec, context=torch.zeros(spec.context_tokens, 24))
    assert count_parameters(dit) > 0


def test_full_size_gr1_architecture_has_about_2b_parameters():
    spec = get_spec("dreamdojo-2b-gr1")
    vae, dit = build_modules(spec, meta_device=True)
    assert count_parameters(dit.transformer) == 1_956_413_440  # + 102,761,472 crossattn_proj = 2.059B
    assert count_parameters(dit.action_embed) == 92_299_264
    assert dit.context.shape == (1, 512, 1024)
    assert spec.latent_size == (60, 80) and spec.latent_frames_per_chunk == 4
    cfg = dit.transformer.config
    assert (cfg.num_layers, cfg.num_attention_heads, cfg.attention_head_dim, cfg.adaln_lora_dim) == (
        28,
        16,
        128,
        256,
    )
    assert count_parameters(vae) == 126_892_531


def test_spec_rejects_a_chunk_that_is_not_a_multiple_of_the_vae_factor():
    with pytest.raises(ValueError, match="temporal factor"):
        get_spec("tiny-random").replace(chunk_size=3)


def test_spec_json_round_trip():
    from engine import ModelSpec

    for name in ("tiny-random", "dreamdojo-2b-gr1", "push-64"):
        spec = get_spec(name)
        assert ModelSpec.from_dict(__import__("json").loads(spec.to_json())) == spec


def test_random_weights_are_the_same_every_time():
    a = random_modules(get_spec("tiny-random"))[1].state_dict()
    b = random_modules(get_spec("tiny-random"))[1].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert np.isfinite(sum(float(v.float().abs().sum()) for v in a.values()))


def test_saved_files_get_the_usual_permissions_not_the_temp_files_private_ones(tmp_path):
    import os
    import stat

    from engine import write_mp4
    from engine.files import process_umask

    umask = os.umask(0o022)
    process_umask.cache_clear()  # it is read once per process
    try:
        Engine.load("tiny-random").save(tmp_path / "ckpt")
        write_mp4(tmp_path / "clip.mp4", np.zeros((2, 32, 32, 3), np.uint8), fps=10)
    finally:
        os.umask(umask)
        process_umask.cache_clear()
    assert stat.S_IMODE((tmp_path / "ckpt").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "clip.mp4").stat().st_mode) == 0o644
