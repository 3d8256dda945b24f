"""The embedded push-64 model: packaged, loads offline, behaves like the toy world."""

import socket

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dreamgym  # noqa: F401
from dreamgym import toyworld as tw
from engine import Engine
from engine.loading import ASSETS_DIR


def test_default_engine_is_the_packaged_model_and_loads_without_network(monkeypatch):
    def no_network(*a, **k):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    eng = Engine.load()
    assert eng.spec.name == "push-64" and eng.spec.weights == "package:push-64"
    assert eng.example_frames is not None and eng.example_frames.shape[1:] == (64, 64, 3)


def test_packaged_weights_are_small_safetensors():
    files = list((ASSETS_DIR / "push-64").iterdir())
    assert {f.name for f in files} >= {"spec.json", "vae.safetensors", "transformer.safetensors", "context.safetensors"}
    assert sum(f.stat().st_size for f in files) < 20 * 2**20


@pytest.mark.parametrize("direction", [[1, 0], [-1, 0], [0, 1], [0, -1], [0, 0]])
def test_the_model_moves_the_pusher_where_the_actions_say(push, direction):
    """Over two chunks (16 frames, 32 px at full speed, one pixel handoff) the predicted pusher
    stays within 2.5 px of the simulator's in every frame (measured: at most 1.6 px)."""
    start = np.array([[32.0, 32.0, 12.0, 52.0]])
    frame = tw.render(start)[0]
    acts = np.tile(np.asarray(direction, np.float32), (16, 1))
    pred = push.predict(frame, acts, seed=0).frames
    truth = tw.simulate(start, acts[None].astype(np.float64))[0]
    err = np.linalg.norm(tw.locate(pred)[:, :2] - truth[:, :2], axis=-1)
    assert err.max() < 2.5, (direction, err.round(2))


def test_the_model_pushes_the_block_ahead_of_the_pusher(push):
    """Pusher left of the block, moving right for 16 frames: the block is pushed 27 px and the
    model puts it within 2 px of the simulator (measured: 0.8 px at frame 16)."""
    start = np.array([[20.0, 32.0, 32.0, 32.0]])
    acts = np.tile(np.asarray([1, 0], np.float32), (16, 1))
    pred = push.predict(tw.render(start)[0], acts, seed=0).frames
    truth = tw.simulate(start, acts[None].astype(np.float64))[0]
    assert truth[-1, 2] - start[0, 2] > 20  # the simulator pushed it
    block = tw.locate(pred[-1])[2:]
    assert np.linalg.norm(block - truth[-1, 2:]) < 2.0, block


def test_check_env_on_the_embedded_model():
    check_env(gym.make("dreamgym/Dream-v0").unwrapped)
