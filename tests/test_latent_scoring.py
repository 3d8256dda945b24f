"""Decode only what is read: a scorer that reads latents (``reads = "latents"``) gets the last
chunk's latents from ``Engine.predict_latents``, which never decodes that chunk, and they are the
latents ``predict_batch`` decodes."""

import numpy as np
import pytest
import torch

from dreamgym import ToyWorldModel
from engine import Engine
from engine.protocol import LatentRolloutModel
from engine.scoring import LatentGoalDistance
from planners import CEM, lattice_cem


@pytest.fixture(scope="module")
def push_engine():
    return Engine.load("push-64")


def plans(spec, k, chunks=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (k, chunks * spec.chunk_size, spec.action_dim)).astype(np.float32)


def test_predict_latents_are_what_predict_batch_decodes(push_engine):
    eng, frame = push_engine, push_engine.example_frames[0]
    acts = plans(eng.spec, 3)
    z = eng.predict_latents(frame, acts, seed=5)
    h, w = eng.spec.latent_size
    assert z.shape == (3, eng.spec.latent_channels, eng.spec.latent_frames_per_chunk, h, w)
    frames = eng.predict_batch(frame, acts, seed=5).frames
    np.testing.assert_array_equal(eng.decode(z)[:, 1:], frames[:, -eng.spec.chunk_size :])


def test_predict_latents_rows_do_not_depend_on_their_batch(push_engine):
    eng, frame = push_engine, push_engine.example_frames[1]
    acts = plans(eng.spec, 4, seed=2)
    batch = eng.predict_latents(frame, acts, seed=1)
    assert torch.equal(batch[2:3], eng.predict_latents(frame, acts[2:3], seed=1))


def test_predict_latents_checks_its_inputs_like_predict_batch(push_engine):
    with pytest.raises(ValueError, match="multiple of"):
        push_engine.predict_latents(push_engine.example_frames[0], np.zeros((2, 5, 2), np.float32))


def test_the_latent_scorer_prefers_the_goal_held_still_and_compares_like_with_like(push_engine):
    eng = push_engine
    goal, other = eng.example_frames[0], eng.example_frames[3]
    scorer = LatentGoalDistance.for_model(eng, goal)
    still = eng.encode_still(np.stack([goal, other]))
    assert still.shape[2] == eng.spec.latent_frames_per_chunk
    scores = scorer(still)
    assert scores[0] == 0 and scores[1] < 0
    # a chunk that rolls out a still scene ends near the goal's still latent, nearer than frame 0 alone
    rolled = eng.predict_latents(goal, np.zeros((1, 8, 2), np.float32))
    alone = LatentGoalDistance(eng.encode(goal[None]))
    assert float(scorer(rolled)[0]) > float(alone(rolled)[0])


def test_a_planner_with_a_latent_scorer_rolls_out_to_latents_only(push_engine):
    eng = push_engine
    calls = []

    class Counting:
        spec = eng.spec

        def predict_batch(self, *a, **k):  # pragma: no cover - must not be called
            calls.append("frames")
            return eng.predict_batch(*a, **k)

        def predict_latents(self, *a, **k):
            calls.append("latents")
            return eng.predict_latents(*a, **k)

        def encode_still(self, frames):
            return eng.encode_still(frames)

    scorer = LatentGoalDistance.for_model(eng, eng.example_frames[2])
    result = lattice_cem(Counting(), scorer, horizon=16, population=4, iterations=1, seed=0).plan(eng.example_frames[0])
    assert set(calls) == {"latents"} and result.frames is None and result.actions.shape == (16, 2)
    assert isinstance(eng, LatentRolloutModel) and not isinstance(ToyWorldModel(), LatentRolloutModel)


def test_a_latent_scorer_on_a_model_without_latents_is_refused_when_the_planner_is_made(push_engine):
    scorer = LatentGoalDistance.for_model(push_engine, push_engine.example_frames[0])
    with pytest.raises(TypeError, match="scorer reads latents.*ToyWorldModel"):
        CEM(ToyWorldModel(), scorer, horizon=8)
    with pytest.raises(TypeError, match="needs a model with encode_still"):
        LatentGoalDistance.for_model(ToyWorldModel(), push_engine.example_frames[0])
