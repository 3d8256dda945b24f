"""The engine contract (engine.protocol): one conformance suite that the local ``Engine``, the
``RemoteEngine`` (against a real server) and each world's exact model (toy world, PushT) all
pass, and the one resolver, ``engine.open``, on each kind of input."""

from pathlib import Path

import numpy as np
import pytest

import engine
from dreamgym import toyworld as tw
from engine import Engine, RemoteEngine
from engine.protocol import BaseEngine, RolloutModel, WorldModel

KINDS = ["local", "remote", "exact", "pusht"]


@pytest.fixture(scope="module")
def remote_push(push_server):
    eng = RemoteEngine(push_server.url)
    yield eng
    eng.close()


def toy_frame(seed: int = 0) -> np.ndarray:
    """A toy-world frame (both objects visible)."""
    return tw.render(tw.random_states(np.random.default_rng(seed), 1))[0]


def pusht_frame(seed: int = 0) -> np.ndarray:
    """A frame of a PushT episode (the PushT model continues only from frames it knows)."""
    from dreamgym.pusht import PushTEnv

    return PushTEnv().reset(seed=seed)[0]


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.fixture
def model(kind, request):
    if kind == "local":
        return request.getfixturevalue("push")
    if kind == "remote":
        return request.getfixturevalue("remote_push")
    if kind == "pusht":
        from dreamgym.pusht import PushTModel

        return PushTModel()
    return tw.ToyWorldModel()


@pytest.fixture
def start_frame(kind):
    """start_frame(seed) -> a frame this kind can start from."""
    return pusht_frame if kind == "pusht" else toy_frame


def plan(spec, seed: int, chunks: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (chunks * spec.chunk_size, spec.action_dim)
    return rng.uniform(spec.action_low, spec.action_high, shape).astype(np.float32)


def test_each_kind_satisfies_the_protocol(model, start_frame):
    assert isinstance(model, WorldModel) and isinstance(model, RolloutModel) and isinstance(model, BaseEngine)
    assert isinstance(model.runs_in_process, bool)
    ex = model.example_frames
    assert ex is None or (ex.dtype == np.uint8 and ex.shape[1:] == (*model.spec.resolution, 3))
    digest = model.weights_sha256()
    assert isinstance(digest, str) and len(digest) == 64 and digest == model.weights_sha256()


def test_predict_gives_t_frames_of_the_spec(model, start_frame):
    spec = model.spec
    r = model.predict(start_frame(), plan(spec, 0), seed=3)
    assert r.frames.shape == (2 * spec.chunk_size, *spec.resolution, 3) and r.frames.dtype == np.uint8
    assert r.seed == 3


def test_a_batched_candidate_equals_its_single_rollout(model, start_frame):
    frame, spec = start_frame(1), model.spec
    cands = np.stack([plan(spec, s) for s in range(3)])
    batch = model.predict_batch(frame, cands, seed=5)
    assert len(batch) == 3
    for k in range(3):
        np.testing.assert_array_equal(batch[k].frames, model.predict(frame, cands[k], seed=5).frames)


def test_stepping_chunk_by_chunk_equals_one_rollout(model, start_frame):
    frame, spec = start_frame(2), model.spec
    acts = plan(spec, 7)
    whole = model.predict(frame, acts, seed=9).frames
    state = model.start(frame[None], 9)
    cs = spec.chunk_size
    got = []
    for c in range(2):
        frames, state = model.step(state, acts[None, c * cs : (c + 1) * cs])
        got.append(frames[0])
    np.testing.assert_array_equal(np.concatenate(got), whole)
    np.testing.assert_array_equal(state.chunk_index, [2])
    np.testing.assert_array_equal(state.last_frames[0], whole[-1])


def test_peek_shows_the_next_chunk_without_advancing(model, start_frame):
    frame, spec = start_frame(3), model.spec
    chunk = plan(spec, 1, chunks=1)[None]
    state = model.start(frame[None], 0)
    peeked, same = model.peek(state, chunk)
    assert same is state and int(state.chunk_index[0]) == 0
    stepped, new = model.step(state, chunk)
    np.testing.assert_array_equal(peeked, stepped)
    assert int(new.chunk_index[0]) == 1 and int(state.chunk_index[0]) == 0


def test_state_rows_can_be_selected_updated_and_concatenated(model, start_frame):
    spec = model.spec
    frames = np.stack([start_frame(4), start_frame(5)])
    chunks = np.stack([plan(spec, 2, chunks=1), plan(spec, 3, chunks=1)])
    state = model.start(frames, [10, 11])
    # peek, not step: a server's rows advance when stepped (an old state then cannot step again)
    both, _ = model.peek(state, chunks)
    one, _ = model.peek(state.select([1]), chunks[1:])
    np.testing.assert_array_equal(one[0], both[1])
    rejoined = type(state).concat([state.select([0]), state.select([1])])
    again, _ = model.peek(rejoined, chunks)
    np.testing.assert_array_equal(again, both)
    swapped = state.update([0], state.select([1]))
    assert swapped.seeds == [11, 11] and state.seeds == [10, 11]
    np.testing.assert_array_equal(swapped.last_frames[0], frames[1])


def test_bad_input_is_refused_before_any_work_with_the_same_messages(model, start_frame):
    spec, frame = model.spec, start_frame()
    with pytest.raises(ValueError, match="multiple of chunk_size"):
        model.predict(frame, np.zeros((spec.chunk_size + 1, spec.action_dim), np.float32))
    with pytest.raises(ValueError, match="resolution"):
        model.predict(np.zeros((8, 8, 3), np.uint8), plan(spec, 0))
    with pytest.raises(ValueError, match="seed"):
        model.predict(frame, plan(spec, 0), seed=-1)
    state = model.start(frame[None], 0)
    with pytest.raises(ValueError, match="one chunk per row"):
        model.step(state, np.zeros((2, spec.chunk_size, spec.action_dim), np.float32))
    with pytest.raises(ValueError, match="exactly one chunk"):
        model.step(state, np.zeros((1, 2 * spec.chunk_size, spec.action_dim), np.float32))
    with pytest.raises(TypeError, match="state must be"):
        model.step(object(), np.zeros((1, spec.chunk_size, spec.action_dim), np.float32))


def test_a_state_from_another_kind_is_refused():
    exact, other = tw.ToyWorldModel(), tw.ToyWorldModel()
    state = exact.start(toy_frame()[None], 0)
    chunk = np.zeros((1, exact.spec.chunk_size, exact.spec.action_dim), np.float32)
    other.step(state, chunk)  # an exact state is plain data: any exact model can advance it
    with pytest.raises(TypeError, match="ToyWorldState"):
        engine.open("push-64").step(state, chunk)


# --- the resolver -------------------------------------------------------------------------------


def test_open_with_nothing_gives_the_embedded_model_once_per_process():
    a, b = engine.open(), engine.open(None)
    assert isinstance(a, Engine) and a is b and a.spec.name == "push-64"
    assert engine.open("push-64") is a


def test_open_a_checkpoint_directory(tiny, tmp_path):
    path = tiny.save(tmp_path / "ckpt")
    eng = engine.open(Path(path))
    assert isinstance(eng, Engine) and eng.spec.name == tiny.spec.name
    assert eng.weights_sha256() == tiny.weights_sha256()
    assert engine.open(str(path)) is eng


def test_open_a_url_gives_a_remote_engine(push_server):
    eng = engine.open(push_server.url)
    assert isinstance(eng, RemoteEngine) and eng.url == push_server.url and eng is engine.open(push_server.url)
    assert eng.runs_in_process is False


def test_the_api_key_comes_from_one_environment_variable(monkeypatch):
    from engine.resolve import api_key_from_env

    monkeypatch.setenv("DREAMGYM_API_KEY", "s3cret")
    assert api_key_from_env() == "s3cret"
    monkeypatch.setenv("DREAMGYM_API_KEY", "")
    assert api_key_from_env() is None


def test_open_passes_an_engine_object_through(tiny):
    exact = tw.ToyWorldModel()
    assert engine.open(tiny) is tiny and engine.open(exact) is exact


@pytest.mark.parametrize("bad", [42, 3.5, ["push-64"], object()])
def test_open_refuses_anything_else_naming_what_it_takes(bad):
    with pytest.raises(TypeError, match="spec name, a checkpoint path, a server URL, an Engine or a RemoteEngine"):
        engine.open(bad)


def test_open_an_unknown_name_says_so():
    with pytest.raises((ValueError, FileNotFoundError, KeyError)):
        engine.open("no-such-model")
