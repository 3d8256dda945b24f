"""The toy push world: simulator, rendering, Push-v0, the exact RolloutModel, the data."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dreamgym
from dreamgym import ToyWorldModel, seeds
from dreamgym import toyworld as tw
from dreamgym.toyworld import generate_episode, generate_episodes


def test_simulation_is_deterministic():
    rng = np.random.default_rng(0)
    s0 = tw.random_states(rng, 8)
    acts = rng.uniform(-1, 1, (8, 20, 2))
    assert np.array_equal(tw.simulate(s0, acts), tw.simulate(s0.copy(), acts.copy()))
    assert np.array_equal(tw.render(s0), tw.render(s0))


def test_a_push_moves_the_block():
    s = tw.simulate(np.array([[20.0, 32.0, 32.0, 32.0]]), np.tile([[[1.0, 0.0]]], (1, 10, 1)))[0]
    assert s[-1, 2] > 40 and s[-1, 3] == pytest.approx(32.0)  # pushed right along the contact normal
    gap = s[-1, 2] - s[-1, 0]
    assert gap == pytest.approx(tw.BLOCK_HALF + tw.PUSHER_RADIUS)  # the pusher touches, never overlaps


def test_a_miss_does_not_move_the_block():
    s = tw.simulate(np.array([[20.0, 10.0, 32.0, 32.0]]), np.tile([[[1.0, 0.0]]], (1, 10, 1)))[0]
    assert np.array_equal(s[-1, 2:], [32.0, 32.0]) and s[-1, 0] == pytest.approx(40.0)


def test_walls_keep_both_inside():
    s = tw.simulate(np.array([[40.0, 32.0, 50.0, 32.0]]), np.tile([[[1.0, 0.0]]], (1, 40, 1)))[0]
    assert s[:, 2].max() <= tw.SIZE - tw.BLOCK_HALF and s[:, 0].max() <= tw.SIZE - tw.PUSHER_RADIUS
    assert s[-1, 2] - s[-1, 0] >= tw.BLOCK_HALF + tw.PUSHER_RADIUS - 1e-9


def test_rendering_is_antialiased_and_located_by_colour():
    s = tw.random_states(np.random.default_rng(3), 16)
    frames = tw.render(s)
    assert frames.shape == (16, 64, 64, 3) and frames.dtype == np.uint8
    assert len(np.unique(frames[0].reshape(-1, 3), axis=0)) > 3  # edge pixels blend colours
    assert np.abs(tw.locate(frames) - s).max() < 0.1


def test_push_env_passes_check_env_and_reports_success():
    env = gym.make("dreamgym/Push-v0")
    check_env(env.unwrapped)
    obs, info = env.reset(seed=0, options={"state": [20, 32, 32, 32], "goal": [30, 32, 40, 32]})
    assert obs.shape == (64, 64, 3) and not info["is_success"] and info["distance"] == 8
    successes = [env.step(np.array([1.0, 0.0], np.float32))[2] for _ in range(4)]
    assert successes == [False, False, False, True]  # block at 37 after 4 steps: within 4 px of 40
    assert np.array_equal(env.unwrapped._info()["goal_image"], tw.render(np.array([30.0, 32, 40, 32]))[0])


def test_push_env_rejects_bad_actions_and_options():
    env = gym.make("dreamgym/Push-v0")
    env.reset(seed=0)
    for bad in (np.zeros(3), np.array([np.nan, 0.0]), np.array([2.0, 0.0])):
        with pytest.raises(ValueError):
            env.step(bad)
    with pytest.raises(ValueError, match="outside"):
        env.reset(options={"state": [0, 0, 30, 30]})
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"colour": "red"})


def test_exact_model_matches_the_env():
    env = gym.make("dreamgym/Push-v0")
    obs, info = env.reset(seed=5)
    acts = np.random.default_rng(1).uniform(-1, 1, (4, 16, 2)).astype(np.float32)
    batch = ToyWorldModel().predict_batch(obs, acts)
    assert batch.frames.shape == (4, 16, 64, 64, 3)
    env_frames, env_states = [], []
    for a in acts[2]:
        o, *_, i = env.step(a)
        env_frames.append(o)
        env_states.append(i["state"])
    pred_states = tw.locate(batch.frames[2])
    assert np.abs(pred_states - np.stack(env_states)).max() < 0.15  # start state read off a uint8 frame
    assert np.abs(batch.frames[2].astype(int) - np.stack(env_frames).astype(int)).mean() < 0.5


def test_exact_model_uses_the_embedded_spec_conventions():
    from engine import get_spec

    spec = ToyWorldModel().spec
    assert spec == get_spec("push-64")
    with pytest.raises(ValueError, match="multiple of chunk_size"):
        ToyWorldModel().predict_batch(tw.render(np.array([20.0, 20, 40, 40]))[0], np.zeros((1, 5, 2), np.float32))


def test_episodes_are_a_function_of_their_seed():
    a, b = generate_episode(7), generate_episode(7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    data = generate_episodes(30, seed=0)
    assert data["frames"].shape == (30, 33, 64, 64, 3) and data["actions"].shape == (30, 32, 2)
    moved = np.linalg.norm(data["states"][:, -1, 2:] - data["states"][:, 0, 2:], axis=-1)
    assert (moved > 1).mean() > 0.3  # contact is common


def test_importing_dreamgym_registers_both_ids():
    assert "dreamgym/Push-v0" in gym.registry and "dreamgym/Dream-v0" in gym.registry
    assert dreamgym.PushEnv is not None


def test_seed_ranges_are_disjoint_and_every_purpose_has_one():
    bases = sorted(seeds.BASES.values())
    assert len(set(bases)) == len(seeds.PURPOSES)
    assert all(b - a >= seeds.SPAN for a, b in zip(bases, bases[1:], strict=False))
    for purpose in seeds.PURPOSES:
        assert seeds.purpose_of(seeds.seed(purpose, 0)) == purpose
        assert seeds.purpose_of(seeds.seed(purpose, seeds.SPAN - 1)) == purpose
    assert seeds.base("training") == 0 and seeds.base("heldout") == 10_000_000  # the shipped model's data
    assert seeds.base("demo") != seeds.base("replan_benchmark")
    with pytest.raises(ValueError, match="seed purpose must be one of"):
        seeds.base("benchmark")
    with pytest.raises(ValueError, match=r"seed index must be an int in \[0, 10000000\), got 10000000"):
        seeds.seed("demo", seeds.SPAN)


def test_no_code_writes_a_seed_base_by_hand():
    """Examples, benchmarks and packages ask the registry; a literal multiple of SPAN is a
    second copy of a base that could collide."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    found = []
    for folder in ("dreamgym", "planners", "examples", "benchmarks"):
        for path in (root / folder).rglob("*.py"):
            if path.name == "seeds.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and type(node.value) is int and node.value >= seeds.SPAN:
                    if node.value % seeds.SPAN == 0:
                        found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert found == []
