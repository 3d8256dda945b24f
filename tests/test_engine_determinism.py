"""Determinism by construction on CPU (invariants 1-2 in docs/engine.md): a row's bytes do not depend on
the other rows of its call, on the thread count, on the CPU's vector ISA, or on other threads
calling the same engine at the same time.

These are the cases that failed on AVX-512 machines before rows were computed alone on pinned
workers: random-noise start frames, K in {2, 3, 5, 8}, both small specs, ``step`` with several
rows, thread counts in subprocesses, concurrent callers.
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import Engine

ROOT = Path(__file__).resolve().parents[1]


def noise_frame(spec, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*spec.resolution, 3), dtype=np.uint8)


def random_actions(spec, k, chunks=2, seed=1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (k, chunks * spec.chunk_size, spec.action_dim)).astype(np.float32)


@pytest.mark.parametrize("k", [2, 3, 5, 8])
@pytest.mark.parametrize("spec_name", ["tiny-random", "push-64"])
def test_every_candidate_of_a_batch_equals_its_single_rollout_from_a_noise_frame(spec_name, k, tiny, push):
    eng = tiny if spec_name == "tiny-random" else push
    frame = noise_frame(eng.spec, seed=k)
    acts = random_actions(eng.spec, k, seed=k)
    batch = eng.predict_batch(frame, acts, seed=11)
    for i in range(k):
        single = eng.predict(frame, acts[i], seed=11)
        assert np.array_equal(batch[i].frames, single.frames), f"candidate {i} of {k}"


def test_step_with_several_rows_equals_predict_row_by_row(push):
    spec = push.spec
    frames = np.stack([noise_frame(spec, 1), push.example_frames[0], noise_frame(spec, 2)])
    acts = random_actions(spec, 3, seed=4)
    state = push.start(frames, seeds=[5, 6, 7])
    chunks = []
    for c in range(2):
        out, state = push.step(state, acts[:, c * spec.chunk_size : (c + 1) * spec.chunk_size])
        chunks.append(out)
    stepped = np.concatenate(chunks, axis=1)
    for i in range(3):
        assert np.array_equal(stepped[i], push.predict(frames[i], acts[i], seed=5 + i).frames), i


def test_results_do_not_depend_on_max_batch_threads_or_vae_tile_position(tiny):
    frame = noise_frame(tiny.spec, 3)
    acts = random_actions(tiny.spec, 6, seed=3)
    ref = tiny.predict_batch(frame, acts, seed=2).frames
    other = Engine.load("tiny-random", max_batch=2, threads=3)
    assert np.array_equal(other.predict_batch(frame, acts, seed=2).frames, ref)
    # the same candidate at every position of a 4-row VAE tile, beside different rows
    for pos in range(4):
        shuffled = np.roll(acts, pos, axis=0)
        assert np.array_equal(tiny.predict_batch(frame, shuffled, seed=2).frames[pos], ref[0]), pos


def test_the_process_thread_count_does_not_change_the_bytes(tiny):
    frame = noise_frame(tiny.spec, 4)
    acts = random_actions(tiny.spec, 1, seed=4)[0]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = tiny.predict(frame, acts, seed=1)
        torch.set_num_threads(4)
        four = tiny.predict(frame, acts, seed=1)
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(one.frames, four.frames) and one.mp4_bytes() == four.mp4_bytes()


def test_row_workers_leave_the_callers_thread_count_alone():
    before = torch.get_num_threads()
    Engine.load("tiny-random", threads=5).predict(np.zeros((32, 32, 3), np.uint8), np.zeros((4, 2), np.float32))
    assert torch.get_num_threads() == before
    seen = []
    t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert seen == [before]  # threads started later still get the process default


_HASH_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, sys
    import numpy as np, torch
    torch.set_num_threads(int(sys.argv[1]))
    from engine import Engine
    out = {}
    for name in ("tiny-random", "push-64"):
        eng = Engine.load(name, dtype=sys.argv[2])
        spec = eng.spec
        frame = np.random.default_rng(0).integers(0, 256, (*spec.resolution, 3), dtype=np.uint8)
        acts = np.random.default_rng(1).uniform(-1, 1, (3, 2 * spec.chunk_size, spec.action_dim)).astype(np.float32)
        batch = eng.predict_batch(frame, acts, seed=9)
        single = eng.predict(frame, acts[2], seed=9)
        out[name] = {
            "frames": hashlib.sha256(batch.frames.tobytes()).hexdigest(),
            "mp4": hashlib.sha256(batch[0].mp4_bytes()).hexdigest(),
            "batch_equals_single": bool(np.array_equal(batch[2].frames, single.frames)),
        }
    print(json.dumps(out))
    """
)


def _run_hash_script(threads: int, env_extra: dict | None = None, dtype: str = "float32") -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    env.pop("OMP_NUM_THREADS", None)
    proc = subprocess.run(
        [sys.executable, "-c", _HASH_SCRIPT, str(threads), dtype], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_same_bytes_at_1_2_and_4_threads_in_fresh_processes():
    runs = {t: _run_hash_script(t) for t in (1, 2, 4)}
    for name in ("tiny-random", "push-64"):
        assert runs[1][name]["batch_equals_single"]
        assert runs[1][name]["frames"] == runs[2][name]["frames"] == runs[4][name]["frames"], name
        assert runs[1][name]["mp4"] == runs[2][name]["mp4"] == runs[4][name]["mp4"], name


def test_batch_equals_single_with_avx2_kernels():
    """On an AVX-512 machine, force ATen, MKL and oneDNN down to their AVX2 kernels (the other
    common x86-64 family; they give other bits, but batch = single must still hold)."""
    env = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    run = _run_hash_script(2, env)
    assert all(run[name]["batch_equals_single"] for name in run), run


@pytest.mark.parametrize("deterministic", [True, False])
def test_concurrent_callers_get_what_sequential_calls_get(deterministic):
    eng = Engine.load("tiny-random", deterministic=deterministic)
    spec = eng.spec
    jobs = [(noise_frame(spec, i), random_actions(spec, 1 + i % 3, seed=i), i) for i in range(12)]
    expected = [eng.predict_batch(f, a, seed=s).frames for f, a, s in jobs]
    got: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def worker(indices):
        try:
            for i in indices:
                f, a, s = jobs[i]
                got[i] = eng.predict_batch(f, a, seed=s).frames
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(range(j, 12, 4),)) for j in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    wrong = [i for i in range(12) if not np.array_equal(got[i], expected[i])]
    assert wrong == []


def test_two_threads_predicting_on_one_push_engine_match_sequential(push):
    frame = push.example_frames[0]
    acts = random_actions(push.spec, 2, seed=8)
    expected = [push.predict(frame, acts[i], seed=i).frames for i in range(2)]
    results: dict[int, list] = {0: [], 1: []}

    def worker(i):
        for _ in range(3):
            results[i].append(push.predict(frame, acts[i], seed=i).frames)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        assert len(results[i]) == 3 and all(np.array_equal(r, expected[i]) for r in results[i])


def test_frames_hash_is_stable_within_a_process(tiny):
    frame = noise_frame(tiny.spec, 5)
    acts = random_actions(tiny.spec, 3, seed=5)
    h = {hashlib.sha256(tiny.predict_batch(frame, acts, seed=1).frames.tobytes()).hexdigest() for _ in range(3)}
    assert len(h) == 1


@pytest.mark.parametrize("spec_name", ["tiny-random", "push-64"])
def test_traced_one_row_dit_gives_the_eager_bits(spec_name, tiny, push):
    """The row workers replay a traced DiT graph for speed; it must be the same function."""
    eng = tiny if spec_name == "tiny-random" else push
    frame = noise_frame(eng.spec, 6)
    acts = random_actions(eng.spec, 2, seed=6)
    traced = eng.predict_batch(frame, acts, seed=3, guidance=1.5).frames  # both branches
    eng._denoiser.enabled = False
    try:
        eager = eng.predict_batch(frame, acts, seed=3, guidance=1.5).frames
    finally:
        eng._denoiser.enabled = True
    assert np.array_equal(traced, eager)


def test_a_forked_child_gets_its_own_row_workers(tiny):
    """After fork the parent's worker threads do not exist in the child; a child that reused
    the parent's pool would wait forever (gymnasium's AsyncVectorEnv forks by default). The
    child pins torch to one thread first, as PyTorch's DataLoader workers do: GNU OpenMP
    itself hangs in a forked child whose parent ran parallel regions."""
    import multiprocessing as mp

    frame = noise_frame(tiny.spec, 7)
    acts = random_actions(tiny.spec, 1, seed=7)[0]
    expected = tiny.predict(frame, acts, seed=1).frames
    Engine.load("tiny-random", threads=2).predict(frame, acts)  # the parent's 2-worker pool is running
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(_predict_in_child, (frame, acts)).get(timeout=60)
    assert np.array_equal(got, expected)


def _predict_in_child(frame, acts):
    torch.set_num_threads(1)
    return Engine.load("tiny-random", threads=2).predict(frame, acts, seed=1).frames
