"""Files the engine writes and reads: atomic checkpoints, validated spec files and tensors,
and errors that name the file, the expected and the received value."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from engine import Engine, get_spec, save_checkpoint
from engine.checkpoints import load_checkpoint, random_modules

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ckpt(tmp_path):
    spec = get_spec("tiny-random")
    vae, dit = random_modules(spec)
    return save_checkpoint(tmp_path / "ckpt", spec, vae, dit)


def test_saving_a_bf16_engine_leaves_it_running(tmp_path, frame, actions):
    eng = Engine.load("tiny-random", dtype="bfloat16")
    before = eng.predict(frame, actions, seed=1).frames
    eng.save(tmp_path / "ckpt")
    assert eng.dit.transformer.transformer_blocks[0].attn1.to_q.weight.dtype == torch.bfloat16
    assert np.array_equal(eng.predict(frame, actions, seed=1).frames, before)
    stored = load_file(str(tmp_path / "ckpt" / "transformer.safetensors"))
    assert all(t.dtype == torch.float32 for t in stored.values())


def test_saving_onto_a_regular_file_is_refused_and_keeps_it(tmp_path):
    target = tmp_path / "model"
    target.write_text("precious")
    spec = get_spec("tiny-random")
    vae, dit = random_modules(spec)
    with pytest.raises(NotADirectoryError, match="not a directory"):
        save_checkpoint(target, spec, vae, dit)
    assert target.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_overwrite_swaps_the_directories_in_one_step(ckpt, monkeypatch):
    import engine.files as files

    calls = []
    real = files._exchange

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(files, "_exchange", spy)
    spec = get_spec("tiny-random").replace(init_seed=1)
    vae, dit = random_modules(spec)
    save_checkpoint(ckpt, spec, vae, dit)
    assert len(calls) == 1 and calls[0][1] == ckpt
    assert load_checkpoint(ckpt)[0].init_seed == 1
    assert sorted(p.name for p in ckpt.parent.iterdir()) == ["ckpt"]


_OVERWRITER = textwrap.dedent(
    """
    import sys
    from engine import get_spec, save_checkpoint
    from engine.checkpoints import random_modules
    path = sys.argv[1]
    i = 0
    print("ready", flush=True)
    while True:
        spec = get_spec("tiny-random").replace(init_seed=i % 2)
        vae, dit = random_modules(spec)
        save_checkpoint(path, spec, vae, dit)
        i += 1
    """
)


def test_sigkill_during_overwrites_always_leaves_a_loadable_checkpoint(ckpt):
    """SIGKILL a process that overwrites a checkpoint in a loop, 6 times at spread-out
    moments: the path always holds a whole checkpoint (the old one or the new one)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for delay in (0.05, 0.15, 0.3, 0.45, 0.6, 0.8):
        proc = subprocess.Popen([sys.executable, "-c", _OVERWRITER, str(ckpt)], env=env, stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        spec, _, _ = load_checkpoint(ckpt)
        assert spec.init_seed in (0, 1)


def test_engine_load_says_what_a_name_must_be(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint directory at '/no/such/dir'.*spec name"):
        Engine.load("/no/such/dir")
    with pytest.raises(ValueError, match="unknown model 'push-65'.*tiny-random"):
        Engine.load("push-65")
    with pytest.raises(FileNotFoundError, match="directory without spec.json"):
        Engine.load(str(tmp_path))


def test_truncated_safetensors_is_named(ckpt):
    f = ckpt / "transformer.safetensors"
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(ValueError, match="transformer.safetensors is not a readable safetensors file"):
        Engine.load(ckpt)


def test_wrong_shape_and_missing_tensor_are_named(ckpt):
    f = ckpt / "transformer.safetensors"
    sd = load_file(str(f))
    key = "transformer.proj_out.weight"
    sd[key] = torch.zeros(3, 3)
    save_file(sd, str(f))
    with pytest.raises(
        ValueError, match=r"transformer.safetensors: tensor 'transformer.proj_out.weight' has shape \(3, 3\)"
    ):
        Engine.load(ckpt)
    del sd[key]
    save_file(sd, str(f))
    with pytest.raises(
        ValueError, match=r"transformer.safetensors does not hold the tensors.*missing \['transformer.proj_out"
    ):
        Engine.load(ckpt)


def test_nan_weights_and_integer_tensors_are_rejected(ckpt):
    f = ckpt / "vae.safetensors"
    sd = load_file(str(f))
    key = next(iter(sd))
    sd[key] = torch.full_like(sd[key], float("nan"))
    save_file(sd, str(f))
    with pytest.raises(ValueError, match="NaN"):
        Engine.load(ckpt)
    sd[key] = torch.zeros(sd[key].shape, dtype=torch.int32)
    save_file(sd, str(f))
    with pytest.raises(ValueError, match="dtype torch.int32"):
        Engine.load(ckpt)


def test_a_float16_context_is_cast_and_predicts(ckpt, frame, actions):
    f = ckpt / "context.safetensors"
    save_file({"context": load_file(str(f))["context"].half()}, str(f))
    eng = Engine.load(ckpt)
    assert eng.dit.context.dtype == torch.float32
    assert eng.predict(frame, actions, seed=0).frames.shape[0] == actions.shape[0]


@pytest.mark.parametrize(
    "field, value, error, message",
    [
        ("height", "32", TypeError, "height must be an int in \\[8, 8192\\], got str '32'"),
        ("num_steps", 0, ValueError, "num_steps must be in \\[1, 1000\\], got 0"),
        ("shift", -1, ValueError, "shift must be a finite number"),
        ("sigma_max", 5, ValueError, "sigma_max must be a finite number in \\[0.001, 1.0\\], got 5"),
        ("guidance", -1, ValueError, "guidance must be a finite number"),
        ("fps", 0, ValueError, "fps must be in \\[1, 1000\\], got 0"),
        ("name", 5, TypeError, "name must be a non-empty str, got int 5"),
    ],
)
def test_spec_json_fields_are_checked_and_the_file_named(ckpt, field, value, error, message):
    f = ckpt / "spec.json"
    data = json.loads(f.read_text())
    data[field] = value
    f.write_text(json.dumps(data))
    with pytest.raises(error, match=message) as info:
        Engine.load(ckpt)
    assert str(f) in str(info.value)


def test_spec_json_network_sizes_are_bounded_before_anything_is_built(ckpt):
    f = ckpt / "spec.json"
    data = json.loads(f.read_text())
    data["transformer"]["num_layers"] = 100000
    f.write_text(json.dumps(data))
    # refused by the spec check, before any module is built (it ran 147 s and 5.3 GB before)
    with pytest.raises(ValueError, match="transformer.num_layers must be in \\[1, 256\\], got 100000"):
        Engine.load(ckpt)


def test_spec_json_that_is_not_json_is_named(ckpt):
    (ckpt / "spec.json").write_text("{not json")
    with pytest.raises(ValueError, match="spec.json is not a JSON spec file"):
        Engine.load(ckpt)


def test_num_steps_and_guidance_have_upper_bounds(tiny, frame, actions):
    with pytest.raises(ValueError, match="num_steps must be in \\[1, 1000\\], got 1000000000"):
        tiny.predict(frame, actions, num_steps=10**9)
    with pytest.raises(ValueError, match="guidance must be a finite float in \\[0, 100.0\\], got 1e\\+300"):
        tiny.predict(frame, actions, guidance=1e300)


@pytest.mark.parametrize("mode", ["F", "I;16", "I", "1"])
def test_pil_frames_that_are_not_8_bit_colour_are_refused(tiny, actions, mode):
    img = Image.new(mode, (32, 32))
    with pytest.raises(TypeError, match=f"mode must be one of .* got '{mode}'"):
        tiny.predict(img, actions)


def test_8_bit_pil_modes_are_accepted(tiny, frame, actions):
    rgb = Image.fromarray(frame)
    ref = tiny.predict(rgb, actions, seed=0).frames
    assert np.array_equal(tiny.predict(rgb.convert("RGBA"), actions, seed=0).frames, ref)
    tiny.predict(rgb.convert("L"), actions, seed=0)


def test_rollout_length_and_candidate_count_have_upper_bounds(tiny, frame):
    with pytest.raises(ValueError, match="at most 4096 frames per rollout, got T = 4100"):
        tiny.predict(frame, np.zeros((4100, 2), np.float32))
    with pytest.raises(ValueError, match="at most 4096 candidates per call, got K = 4097"):
        tiny.predict_batch(frame, np.zeros((4097, 4, 2), np.float32))


def test_a_corrupt_reference_checkpoint_is_named(tmp_path):
    from engine.reference import read_reference_state_dict

    bad = tmp_path / "gr1.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="gr1.pt is not a readable reference checkpoint"):
        read_reference_state_dict(bad)


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(max_batch=0), "max_batch must be an int in \\[1, 4096\\], got 0"),
        (dict(vae_batch=10**6), "vae_batch must be an int in \\[1, 256\\], got 1000000"),
        (dict(threads=5000), "threads must be an int in \\[1, 1024\\], got 5000"),
        (dict(threads=True), "threads must be an int"),
    ],
)
def test_engine_sizes_are_bounded(kw, message):
    with pytest.raises(ValueError, match=message):
        Engine.load("tiny-random", **kw)
