"""The training pipeline runs, resumes, and writes a checkpoint the engine loads."""

import json

import numpy as np

from dreamgym.toyworld.episodes import generate_episodes
from engine import Engine, get_spec
from engine.training import TrainConfig, Trainer


def small_spec():
    base = get_spec("push-64")
    tr = dict(base.transformer, num_layers=1, num_attention_heads=1)
    vae = dict(base.vae, base_dim=4)
    return base.replace(name="push-64-smoke", transformer=tr, vae=vae, action_hidden=16, weights=None)


def test_training_smoke_run_writes_a_loadable_checkpoint_and_resumes(tmp_path):
    data = generate_episodes(6, seed=123, length=16)
    cfg = TrainConfig(vae_steps=3, vae_batch=2, dit_steps=3, dit_batch=4, clip_stride=8, save_every=2)
    spec = small_spec()
    ckpt = Trainer(spec, data["frames"], data["actions"], tmp_path / "run", cfg, progress=False).run()
    log = [json.loads(line) for line in (tmp_path / "run" / "loss_log.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in log].count("vae") == 3 and [r["phase"] for r in log].count("dit") == 3
    assert all(np.isfinite(r["loss"]) for r in log)
    eng = Engine.load(ckpt)
    assert eng.spec.name == spec.name and eng.spec.transformer == spec.transformer
    assert eng.example_frames.shape == (6, 64, 64, 3)
    assert len(eng.spec.vae["latents_mean"]) >= spec.latent_channels  # measured stats travel with the weights
    r = eng.predict(data["frames"][0, 0], data["actions"][0, :8], seed=0, num_steps=1)
    assert r.frames.shape == (8, 64, 64, 3)
    # resuming with more steps continues from the saved states instead of starting over
    cfg2 = TrainConfig(vae_steps=4, vae_batch=2, dit_steps=4, dit_batch=4, clip_stride=8, save_every=2)
    Trainer(spec, data["frames"], data["actions"], tmp_path / "run", cfg2, progress=False).run()
    log = [json.loads(line) for line in (tmp_path / "run" / "loss_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r["phase"] == "vae"] == [0, 1, 2, 3]


def test_training_rejects_mismatched_data(tmp_path):
    import pytest

    data = generate_episodes(2, seed=0, length=8)
    with pytest.raises(ValueError, match="actions must be"):
        Trainer(small_spec(), data["frames"], data["actions"][:, :4], tmp_path, TrainConfig())


def test_training_reproduces_bit_for_bit(tmp_path):
    data = generate_episodes(4, seed=7, length=16)
    cfg = TrainConfig(vae_steps=2, vae_batch=2, dit_steps=2, dit_batch=4, clip_stride=8, save_every=10)
    paths = [
        Trainer(small_spec(), data["frames"], data["actions"], tmp_path / f"run{i}", cfg, progress=False).run()
        for i in range(2)
    ]
    for name in ("vae.safetensors", "transformer.safetensors", "context.safetensors"):
        assert (paths[0] / name).read_bytes() == (paths[1] / name).read_bytes(), name


def test_stop_after_the_vae_phase_keeps_state_for_a_later_run(tmp_path):
    data = generate_episodes(4, seed=9, length=16)
    cfg = TrainConfig(vae_steps=2, vae_batch=2, vae_clip_frames=5, dit_steps=2, dit_batch=4, clip_stride=8)
    trainer = Trainer(small_spec(), data["frames"], data["actions"], tmp_path / "run", cfg, progress=False)
    assert trainer.run(stop_after="vae") is None
    assert (tmp_path / "run" / "state_vae.pt").exists() and not (tmp_path / "run" / "latents.pt").exists()
    cfg2 = TrainConfig(vae_steps=3, vae_batch=2, dit_steps=2, dit_batch=4, clip_stride=8)
    ckpt = Trainer(small_spec(), data["frames"], data["actions"], tmp_path / "run", cfg2, progress=False).run()
    assert (ckpt / "transformer.safetensors").exists()


def test_dit_stop_at_pauses_inside_a_longer_schedule_and_a_later_run_finishes_it(tmp_path):
    import torch

    data = generate_episodes(4, seed=5, length=16)
    base = dict(vae_steps=2, vae_batch=2, dit_steps=4, dit_batch=4, clip_stride=8, save_every=100)

    def run(out, **kw):
        return Trainer(small_spec(), data["frames"], data["actions"], out, TrainConfig(**base, **kw), progress=False)

    assert run(tmp_path / "a", dit_stop_at=2).run() is None  # paused: states kept, no checkpoint yet
    assert torch.load(tmp_path / "a" / "state_dit.pt", weights_only=True)["step"] == 2
    assert not (tmp_path / "a" / "checkpoint").exists()
    assert [json.loads(x)["step"] for x in (tmp_path / "a" / "loss_log.jsonl").open() if '"dit"' in x] == [0, 1]
    resumed = run(tmp_path / "a").run()
    state = torch.load(tmp_path / "a" / "state_dit.pt", weights_only=True)
    assert state["step"] == 4 and (resumed / "transformer.safetensors").exists()
    steps = [json.loads(x)["step"] for x in (tmp_path / "a" / "loss_log.jsonl").open() if '"dit"' in x]
    assert steps == [0, 1, 2, 3]


def test_bad_training_data_is_refused_before_any_training(tmp_path):
    import pytest

    data = generate_episodes(2, seed=5, length=16)
    spec = small_spec()
    nan = data["actions"].copy()
    nan[1, 3, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN/inf values \\(first at episode 1, step 3, dim 0\\)"):
        Trainer(spec, data["frames"], nan, tmp_path / "run", TrainConfig(), progress=False)
    far = data["actions"] * 50
    with pytest.raises(ValueError, match="actions must lie in the spec's bounds \\[-1.0, 1.0\\]"):
        Trainer(spec, data["frames"], far, tmp_path / "run", TrainConfig(), progress=False)
    assert not (tmp_path / "run").exists()


def test_train_config_and_cli_refuse_negative_steps(tmp_path, capsys):
    import pytest

    from engine.training.cli import main

    with pytest.raises(ValueError, match="vae_steps must be >= 0, got -5"):
        TrainConfig(vae_steps=-5)
    with pytest.raises(SystemExit) as info:
        main(["--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "o"), "--vae-steps", "-5"])
    assert info.value.code == 2 and "--vae-steps must be >= 0, got -5" in capsys.readouterr().err


def test_the_vaes_background_is_the_most_common_colour_not_a_corner_pixel():
    """PushT's frames have a grey wall border round a white table: taken from a corner, the
    background was the wall, the objects got no extra weight and the VAE collapsed to a blank
    table. The toy world's corner is its background, so push-64's recipe is unchanged."""
    from engine.training.trainer import background_colour

    frame = np.full((1, 2, 64, 64, 3), 255, np.uint8)
    frame[:, :, :2], frame[:, :, -2:], frame[:, :, :, :2], frame[:, :, :, -2:] = 238, 238, 238, 238
    frame[:, :, 20:30, 20:40] = (140, 160, 180)  # an object
    assert background_colour(frame).tolist() == [255, 255, 255]
    toy = generate_episodes(3, seed=5, length=2)["frames"]
    assert background_colour(toy).tolist() == toy[0, 0, 0, 0].tolist()


def test_bf16_training_runs_and_its_loss_stays_near_fp32s(tmp_path):
    data = generate_episodes(4, seed=11, length=16)
    losses = {}
    for precision in ("fp32", "bf16"):
        cfg = TrainConfig(vae_steps=2, vae_batch=2, dit_steps=3, dit_batch=4, clip_stride=8, precision=precision)
        Trainer(small_spec(), data["frames"], data["actions"], tmp_path / precision, cfg, progress=False).run()
        log = [json.loads(line) for line in (tmp_path / precision / "loss_log.jsonl").read_text().splitlines()]
        losses[precision] = np.array([r["loss"] for r in log])
    assert np.isfinite(losses["bf16"]).all()
    np.testing.assert_allclose(losses["bf16"], losses["fp32"], rtol=0.1)


def test_an_unknown_training_precision_is_refused():
    import pytest

    with pytest.raises(ValueError, match=r"precision must be one of \['fp32', 'bf16'\], got 'fp8'"):
        TrainConfig(precision="fp8")


def test_self_conditioning_trains_on_the_models_own_handoff(tmp_path):
    """dit_self_cond: a share of the clips start from the frame the model itself hands over
    after the clip one chunk earlier (sampled, decoded, quantised, re-encoded: inference's pixel
    handoff), so the DiT learns to continue from its own outputs."""
    data = generate_episodes(3, seed=13, length=24)
    cfg = TrainConfig(vae_steps=2, vae_batch=2, dit_steps=3, dit_batch=4, clip_stride=4, dit_self_cond=1.0)
    trainer = Trainer(small_spec(), data["frames"], data["actions"], tmp_path / "run", cfg, progress=False)
    per_episode = len(range(0, 25 - 8, 4))  # 25 frames: clips at 0, 4, 8, 12, 16; a chunk is 2 strides
    prev = trainer.previous_clips(3 * per_episode)
    assert prev.tolist() == [-1, -1, 0, 1, 2, -1, -1, 5, 6, 7, -1, -1, 10, 11, 12]
    ckpt = trainer.run()
    log = [json.loads(line) for line in (tmp_path / "run" / "loss_log.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in log].count("dit") == 3 and all(np.isfinite(r["loss"]) for r in log)
    assert Engine.load(ckpt).predict(data["frames"][0, 0], data["actions"][0, :8], num_steps=1).frames.shape[0] == 8
    import pytest

    with pytest.raises(ValueError, match=r"dit_self_cond must be in \[0, 1\], got 1.5"):
        TrainConfig(dit_self_cond=1.5)


def test_snapshot_writes_a_checkpoint_of_a_run_in_progress_without_training(tmp_path):
    import pytest

    data = generate_episodes(4, seed=5, length=16)
    base = dict(vae_steps=2, vae_batch=2, dit_steps=4, dit_batch=4, clip_stride=8, save_every=2)

    def trainer(**kw):
        cfg = TrainConfig(**base, **kw)
        return Trainer(small_spec(), data["frames"], data["actions"], tmp_path / "run", cfg, progress=False)

    with pytest.raises(FileNotFoundError, match="no saved DiT state yet"):
        trainer().snapshot(tmp_path / "early")
    assert trainer(dit_stop_at=2).run() is None
    snap = trainer().snapshot(tmp_path / "snap")
    assert json.loads((snap / "meta.json").read_text())["dit_step"] == 2
    assert Engine.load(snap).predict(
        data["frames"][0, 0], data["actions"][0, :8], seed=0, num_steps=1
    ).frames.shape == (
        8,
        64,
        64,
        3,
    )
    log = (tmp_path / "run" / "loss_log.jsonl").read_text()
    final = trainer().run()  # the snapshot trained nothing: the run goes on from step 2
    assert (tmp_path / "run" / "loss_log.jsonl").read_text().startswith(log)
    assert [json.loads(x)["step"] for x in (tmp_path / "run" / "loss_log.jsonl").open() if '"dit"' in x] == [0, 1, 2, 3]
    at_end = trainer().snapshot(tmp_path / "at_end")  # at the end, the snapshot is the final checkpoint
    assert (at_end / "transformer.safetensors").read_bytes() == (final / "transformer.safetensors").read_bytes()


def test_init_from_a_checkpoint_fine_tunes_it_keeping_its_vae(tmp_path):
    import pytest
    import torch

    from engine.checkpoints import load_checkpoint

    data = generate_episodes(4, seed=5, length=16)
    base = dict(vae_batch=2, dit_batch=4, clip_stride=8, save_every=100)
    spec = small_spec()

    def train(out: str, **kw):
        cfg = TrainConfig(**kw, **base)
        return Trainer(spec, data["frames"], data["actions"], tmp_path / out, cfg, progress=False).run()

    first = train("a", vae_steps=2, dit_steps=2)
    # no VAE steps, no DiT steps: the fine-tune's checkpoint is its source, latent statistics included
    same = train("b", vae_steps=0, dit_steps=0, init_from=str(first))
    for name in ("vae.safetensors", "transformer.safetensors", "context.safetensors"):
        assert (same / name).read_bytes() == (first / name).read_bytes(), name
    assert load_checkpoint(same)[0].vae == load_checkpoint(first)[0].vae
    # two DiT steps with self-conditioning on every clip: the DiT moves, the VAE does not
    tuned = train("c", vae_steps=0, dit_steps=2, dit_lr=1e-4, dit_self_cond=1.0, init_from=str(first))
    assert (tuned / "vae.safetensors").read_bytes() == (first / "vae.safetensors").read_bytes()
    a, b = load_checkpoint(first)[2].state_dict(), load_checkpoint(tuned)[2].state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(FileNotFoundError, match="expected a checkpoint directory or a spec with shipped weights"):
        train("d", init_from="nowhere")
    with pytest.raises(ValueError, match="does not match the networks"):
        train("e", init_from="push-64")


def test_motion_weight_marks_the_latent_cells_a_mover_passes_through(tmp_path):
    """dit_motion_weight: the loss weighs the latent cells whose pixels change within the clip
    (a 3-px pusher is a few cells of a static picture); the mask is exact on a made-up clip and
    a weighted run trains."""
    import torch

    data = generate_episodes(2, seed=17, length=16)
    frames = np.full_like(data["frames"], 200)
    frames[1, 5:, 40:44, 8:12] = 0  # episode 1: a square appears at frame 5 in cell (10, 2) (4 px cells)
    cfg = TrainConfig(vae_steps=1, vae_batch=2, dit_steps=2, dit_batch=4, clip_stride=4, dit_motion_weight=10.0)
    trainer = Trainer(small_spec(), frames, data["actions"], tmp_path / "run", cfg, progress=False)
    per_episode = len(range(0, 17 - 8, 4))  # clips at 0, 4, 8
    mask = trainer.motion_mask(torch.tensor([per_episode, per_episode + 1, per_episode + 2, 0]), 5, 16, 16)
    assert mask.shape == (4, 1, 5, 16, 16)
    # clip 0 of episode 1 (frames 0-8): the square is new from frame 5, in latent frames 3 (5-6) and 4 (7-8)
    assert mask[0, 0, :, 10, 2].tolist() == [0, 0, 0, 1, 1] and mask[0].sum() == 2
    assert mask[1, 0, :, 10, 2].tolist() == [0, 1, 1, 1, 1] and mask[1].sum() == 4  # frames 4-12
    assert mask[2].sum() == 0  # clip 2 (frames 8-16) starts with the square already there: nothing moves
    assert mask[3].sum() == 0  # episode 0 is blank
    trainer.run()
    log = [json.loads(line) for line in (tmp_path / "run" / "loss_log.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in log].count("dit") == 2 and all(np.isfinite(r["loss"]) for r in log)
