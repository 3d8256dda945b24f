"""Engine invariants 1-3 (docs/engine.md) on the tiny random model."""

import numpy as np

from engine import Engine, decode_mp4, encode_mp4
from engine.video import rgb_to_yuv420p


def test_same_seed_gives_identical_frames_and_mp4_bytes(tiny, frame, actions):
    a = tiny.predict(frame, actions, seed=7)
    b = tiny.predict(frame, actions, seed=7)
    assert np.array_equal(a.frames, b.frames)
    assert a.mp4_bytes() == b.mp4_bytes()


def test_different_seeds_give_different_frames(tiny, frame, actions):
    a = tiny.predict(frame, actions, seed=1)
    b = tiny.predict(frame, actions, seed=2)
    assert not np.array_equal(a.frames, b.frames)


def test_actions_change_the_prediction(tiny, frame, actions):
    a = tiny.predict(frame, actions, seed=1)
    b = tiny.predict(frame, -actions, seed=1)
    assert not np.array_equal(a.frames, b.frames)


def test_freshly_loaded_engine_reproduces_bytes(tiny, frame, actions):
    other = Engine.load("tiny-random")
    assert tiny.predict(frame, actions, seed=3).mp4_bytes() == other.predict(frame, actions, seed=3).mp4_bytes()


def test_rollout_shapes_and_metadata(tiny, frame, actions):
    r = tiny.predict(frame, actions, seed=5, num_steps=2)
    t = actions.shape[0]
    assert r.frames.shape == (t, *tiny.spec.resolution, 3) and r.frames.dtype == np.uint8
    assert r.video.shape[0] == t + 1 and np.array_equal(r.video[0], frame)
    assert (r.seed, r.spec_name, r.num_steps, r.guidance) == (5, "tiny-random", 2, 0.0)
    assert len(r.request_id) == 32 and r.engine_wall_ms > 0


def test_batch_equals_single_bit_for_bit(tiny, frame):
    rng = np.random.default_rng(4)
    acts = rng.uniform(-1, 1, (5, 2 * tiny.spec.chunk_size, tiny.spec.action_dim)).astype(np.float32)
    batch = tiny.predict_batch(frame, acts, seed=11)
    assert batch.frames.shape == (5, *acts.shape[1:2], *tiny.spec.resolution, 3)
    for k in range(5):
        assert np.array_equal(batch[k].frames, tiny.predict(frame, acts[k], seed=11).frames), k


def test_micro_batching_does_not_change_results(frame):
    big = Engine.load("tiny-random", max_batch=32)
    small = Engine.load("tiny-random", max_batch=2, vae_batch=3)
    acts = np.random.default_rng(5).uniform(-1, 1, (5, 4, 2)).astype(np.float32)
    assert np.array_equal(
        big.predict_batch(frame, acts, seed=2).frames, small.predict_batch(frame, acts, seed=2).frames
    )


def test_per_candidate_seed_list(tiny, frame):
    acts = np.zeros((3, 4, 2), np.float32)
    batch = tiny.predict_batch(frame, acts, seed=[1, 2, 1])
    assert np.array_equal(batch[0].frames, batch[2].frames)
    assert not np.array_equal(batch[0].frames, batch[1].frames)
    assert np.array_equal(batch[1].frames, tiny.predict(frame, acts[1], seed=2).frames)


def test_step_by_chunk_equals_predict(tiny, frame, actions):
    cs = tiny.spec.chunk_size
    whole = tiny.predict(frame, actions, seed=9)
    state = tiny.start(frame[None], seeds=9)
    chunks = []
    for c in range(actions.shape[0] // cs):
        out, state = tiny.step(state, actions[None, c * cs : (c + 1) * cs])
        chunks.append(out[0])
    assert np.array_equal(np.concatenate(chunks), whole.frames)


def test_step_rows_are_independent_of_their_batch(tiny, frame, actions):
    cs = tiny.spec.chunk_size
    frames = np.stack([frame, frame[::-1].copy()])
    state = tiny.start(frames, seeds=[3, 4])
    both, _ = tiny.step(state, np.stack([actions[:cs], -actions[:cs]]))
    alone, _ = tiny.step(tiny.start(frames[1:], seeds=4), -actions[None, :cs])
    assert np.array_equal(both[1], alone[0])


def test_guidance_runs_the_unconditional_branch(tiny, frame, actions):
    plain = tiny.predict(frame, actions, seed=1, guidance=0.0)
    guided = tiny.predict(frame, actions, seed=1, guidance=2.0)
    assert not np.array_equal(plain.frames, guided.frames)


def test_latent_handoff_is_an_option(frame, actions):
    from engine import get_spec

    spec = get_spec("tiny-random").replace(handoff="latent")
    eng = Engine.load(spec)
    pixel = Engine.load("tiny-random").predict(frame, actions, seed=1)
    latent = eng.predict(frame, actions, seed=1)
    cs = spec.chunk_size
    assert np.array_equal(latent.frames[:cs], pixel.frames[:cs])  # first chunk identical
    assert not np.array_equal(latent.frames[cs:], pixel.frames[cs:])


def test_mp4_holds_start_frame_plus_predictions(tiny, frame, actions, tmp_path):
    r = tiny.predict(frame, actions, seed=0)
    path = r.save(tmp_path / "out" / "r.mp4")
    decoded = decode_mp4(path)
    assert decoded.shape == r.video.shape
    assert path.read_bytes() == r.mp4_bytes()


def test_mp4_is_h264_baseline_yuv420p_at_the_spec_fps(tiny, frame, actions):
    import io

    import av

    data = tiny.predict(frame, actions, seed=0, num_steps=1).mp4_bytes()
    with av.open(io.BytesIO(data)) as container:
        cc = container.streams.video[0].codec_context
        assert cc.name == "h264" and "Baseline" in cc.profile and cc.pix_fmt == "yuv420p"
        assert container.streams.video[0].average_rate == tiny.spec.fps


def test_decode_round_trip_of_smooth_frames_is_close(tiny, frame):

    frames = np.stack([np.roll(frame, i, axis=1) for i in range(5)])
    back = decode_mp4(encode_mp4(frames, fps=10))
    assert back.shape == frames.shape
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 3


def test_mp4_bytes_do_not_depend_on_the_memory_layout_of_the_frames():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 32, 48, 3), dtype=np.uint8)
    wide = np.zeros((3, 32, 50, 3), np.uint8)
    wide[:, :, 1:49] = frames  # a strided view at an odd offset
    offset = np.frombuffer(b"\x00" + frames.tobytes(), np.uint8, offset=1).reshape(frames.shape)
    data = encode_mp4(frames, fps=10)
    assert encode_mp4(wide[:, :, 1:49], fps=10) == data
    assert encode_mp4(offset, fps=10) == data
    assert encode_mp4(np.asfortranarray(frames), fps=10) == data


def test_our_yuv420p_conversion_agrees_with_ffmpeg_on_luma():
    import av

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    ref = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p").to_ndarray()
    y, u, v = rgb_to_yuv420p(frame)
    assert y.shape == (16, 16) and u.shape == v.shape == (8, 8)
    assert np.abs(ref[:16].astype(int) - y).max() <= 1


def test_rollout_batch_is_array_first(tiny, frame):
    acts = np.random.default_rng(2).uniform(-1, 1, (3, 4, 2)).astype(np.float32)
    batch = tiny.predict_batch(frame, acts, seed=1)
    assert batch.frames is batch.frames  # one array, not a stack made on every access
    assert np.shares_memory(batch[1].frames, batch.frames) and batch[1].seed == 1
    assert [r.request_id for r in batch] == batch.request_ids and len(set(batch.request_ids)) == 3
