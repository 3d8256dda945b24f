"""Invariant 4 (docs/engine.md): bad input raises a clear error before any model work."""

import numpy as np
import pytest

from engine import Engine, get_spec


@pytest.fixture
def guarded(tiny, monkeypatch):
    """The tiny engine with its networks booby-trapped: any model work fails the test."""

    def boom(*a, **k):
        raise AssertionError("model work started before validation")

    monkeypatch.setattr(tiny, "encode", boom)
    monkeypatch.setattr(tiny, "_chunk", boom)
    return tiny


def ok_actions(spec, t=None):
    return np.zeros((t or spec.chunk_size, spec.action_dim), np.float32)


def test_frame_with_wrong_shape(guarded, frame):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        guarded.predict(frame[..., :2], ok_actions(guarded.spec))


def test_frame_with_wrong_dtype(guarded, frame):
    with pytest.raises(TypeError, match="uint8"):
        guarded.predict(frame.astype(np.float32), ok_actions(guarded.spec))


def test_frame_with_wrong_resolution(guarded, frame):
    with pytest.raises(ValueError, match=r"expects \(H, W\) = \(32, 32\)"):
        guarded.predict(np.zeros((16, 32, 3), np.uint8), ok_actions(guarded.spec))


def test_frame_of_wrong_type(guarded):
    with pytest.raises(TypeError, match="numpy array or PIL image"):
        guarded.predict("frame.png", ok_actions(guarded.spec))


def test_pil_image_is_accepted(tiny, frame):
    from PIL import Image

    a = tiny.predict(Image.fromarray(frame), ok_actions(tiny.spec), seed=0, num_steps=1)
    b = tiny.predict(frame, ok_actions(tiny.spec), seed=0, num_steps=1)
    assert np.array_equal(a.frames, b.frames)


def test_actions_with_wrong_rank(guarded, frame):
    with pytest.raises(ValueError, match=r"\(T, action_dim\)"):
        guarded.predict(frame, np.zeros(4, np.float32))


def test_actions_with_wrong_width(guarded, frame):
    with pytest.raises(ValueError, match="action_dim = 2"):
        guarded.predict(frame, np.zeros((4, 3), np.float32))


@pytest.mark.parametrize("t", [0, 3, 6])
def test_actions_length_not_a_multiple_of_chunk(guarded, frame, t):
    with pytest.raises(ValueError, match="positive multiple of chunk_size = 4"):
        guarded.predict(frame, np.zeros((t, 2), np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_actions_not_finite(guarded, frame, bad):
    a = ok_actions(guarded.spec)
    a[1, 0] = bad
    with pytest.raises(ValueError, match="finite"):
        guarded.predict(frame, a)


def test_finite_float64_actions_beyond_float32_are_named_as_such(guarded, frame):
    a = ok_actions(guarded.spec).astype(np.float64)
    a[0, 0] = 1e300
    with pytest.raises(ValueError, match=r"must fit in float32 .* magnitude 1e\+300"):
        guarded.predict(frame, a)


def test_bytes_that_are_not_a_npy_are_named_for_what_they_are():
    import pickle

    from engine.codecs import array_from_npy_bytes

    with pytest.raises(ValueError, match=r"is not a .npy file: it must start with the .npy magic.*0.1,0.2"):
        array_from_npy_bytes(b"0.1,0.2\n0.3,0.4\n")  # a CSV was called "pickled" before
    with pytest.raises(ValueError, match="pickled .npy data is refused .this is a pickle"):
        array_from_npy_bytes(pickle.dumps([0.1, 0.2]))
    with pytest.raises(ValueError, match="pickled .npy data is refused"):
        buf = __import__("io").BytesIO()
        np.save(buf, np.array([{}], dtype=object), allow_pickle=True)
        array_from_npy_bytes(buf.getvalue())


def test_actions_out_of_bounds(guarded, frame):
    a = ok_actions(guarded.spec)
    a[0, 1] = 1.5
    with pytest.raises(ValueError, match=r"bounds \[-1.0, 1.0\]"):
        guarded.predict(frame, a)


def test_actions_of_non_numeric_dtype(guarded, frame):
    with pytest.raises(TypeError, match="real numbers"):
        guarded.predict(frame, np.full((4, 2), "a"))


def test_clip_mode_clips_instead_of_raising(frame):
    eng = Engine.load(get_spec("tiny-random").replace(out_of_bounds="clip"))
    a = np.full((4, 2), 3.0, np.float32)
    r = eng.predict(frame, a, seed=0, num_steps=1)
    assert r.actions.max() == 1.0
    assert np.array_equal(r.frames, eng.predict(frame, np.ones((4, 2), np.float32), seed=0, num_steps=1).frames)


@pytest.mark.parametrize(
    "seed, exc",
    [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("3", TypeError), (2**63, ValueError)],
)
def test_bad_seed(guarded, frame, seed, exc):
    with pytest.raises(exc, match="seed"):
        guarded.predict(frame, ok_actions(guarded.spec), seed=seed)


@pytest.mark.parametrize("steps", [0, -2, 1.5])
def test_bad_num_steps(guarded, frame, steps):
    with pytest.raises(ValueError, match="num_steps"):
        guarded.predict(frame, ok_actions(guarded.spec), num_steps=steps)


@pytest.mark.parametrize("g", [-1.0, float("nan")])
def test_bad_guidance(guarded, frame, g):
    with pytest.raises(ValueError, match="guidance"):
        guarded.predict(frame, ok_actions(guarded.spec), guidance=g)


def test_batch_with_no_candidates(guarded, frame):
    with pytest.raises(ValueError, match="K >= 1"):
        guarded.predict_batch(frame, np.zeros((0, 4, 2), np.float32))


def test_batch_seed_list_of_wrong_length(guarded, frame):
    with pytest.raises(ValueError, match="one seed per row"):
        guarded.predict_batch(frame, np.zeros((3, 4, 2), np.float32), seed=[1, 2])


def test_step_with_wrong_chunk_length(tiny, frame):
    state = tiny.start(frame[None])
    with pytest.raises(ValueError, match="exactly one chunk"):
        tiny.step(state, np.zeros((1, 8, 2), np.float32))


def test_step_with_wrong_row_count(tiny, frame):
    state = tiny.start(frame[None])
    with pytest.raises(ValueError, match="B = 1"):
        tiny.step(state, np.zeros((2, 4, 2), np.float32))


def test_save_failure_keeps_the_old_file_and_leaves_no_temp(tiny, frame, tmp_path, monkeypatch):
    import engine.files

    r = tiny.predict(frame, ok_actions(tiny.spec), seed=0, num_steps=1)
    path = tmp_path / "r.mp4"
    path.write_bytes(b"old")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(engine.files.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        r.save(path)
    assert path.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    "value, kw, message",
    [
        (0, dict(low=1), "n must be an int >= 1, got 0"),
        (2.5, dict(low=1), "n must be an int >= 1, got float 2.5"),
        (True, dict(low=0), "n must be an int >= 0, got bool True"),
        (9, dict(low=1, high=8), r"n must be an int in \[1, 8\], got 9"),
        (8, dict(low=0, high=8, high_open=True), r"n must be an int in \[0, 8\), got 8"),
    ],
)
def test_as_int_names_the_argument_the_range_and_what_came(value, kw, message):
    from engine.validation import as_int

    with pytest.raises(ValueError, match=message):
        as_int(value, "n", **kw)


def test_as_int_takes_numpy_integers_and_as_real_refuses_nan():
    from engine.validation import as_int, as_real

    assert as_int(np.int16(7), "n", low=1) == 7 and type(as_int(np.int64(3), "n")) is int
    with pytest.raises(ValueError, match="x must be a finite number, got nan"):
        as_real(float("nan"), "x")
    with pytest.raises(ValueError, match="x must be > 0, got 0.0"):
        as_real(0.0, "x", low=0, open_low=True)


def test_a_cuda_device_on_a_machine_without_one_is_named_before_loading():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="asked for CUDA, but"):
        Engine.load("tiny-random", device="cuda")
    with pytest.raises(ValueError, match=r"device must be 'cpu', 'cuda' or 'cuda:N', got 'tpu'"):
        Engine.load("tiny-random", device="tpu")
