"""The dynamic-batching scheduler, in process: rows of different requests share engine steps
and each gets the bytes it would get alone."""

import threading
import time

import numpy as np
import pytest

from engine.batching import Job, JobCancelled, QueueFull, Scheduler


def job_for(engine, frame, actions, seed, **kw):
    k, t, a = actions.shape
    cs = engine.spec.chunk_size
    return Job(
        chunks=actions.reshape(k, t // cs, cs, a),
        num_steps=kw.pop("num_steps", engine.spec.num_steps),
        guidance=engine.spec.guidance,
        start_frames=np.broadcast_to(frame, (k, *frame.shape)).copy(),
        seeds=[seed] * k,
        **kw,
    )


def test_requests_of_different_frames_lengths_and_sizes_equal_their_solo_rollouts(tiny):
    rng = np.random.default_rng(0)
    cs = tiny.spec.chunk_size
    sch = Scheduler(tiny, max_rows=5, wait_ms=50)  # 9 rows: some steps hold only part of them
    try:
        cases = []
        for i in range(5):
            frame = rng.integers(0, 256, (*tiny.spec.resolution, 3), dtype=np.uint8)
            acts = rng.uniform(-1, 1, (1 + i % 3, cs * (1 + i % 4), 2)).astype(np.float32)
            job = job_for(tiny, frame, acts, seed=i)
            sch.submit(job)
            cases.append((job, frame, acts, i))
        for job, frame, acts, seed in cases:
            result = job.future.result(60)
            np.testing.assert_array_equal(result.frames, tiny.predict_batch(frame, acts, seed=seed).frames)
        assert max(job.future.result().batch_jobs for job, *_ in cases) > 1
    finally:
        sch.close()


def test_without_batching_each_engine_step_holds_one_request(tiny, frame, actions):
    sch = Scheduler(tiny, batching=False)
    try:
        jobs = [job_for(tiny, frame, actions[None], seed=s) for s in range(3)]
        for job in jobs:
            sch.submit(job)
        assert [job.future.result(60).batch_jobs for job in jobs] == [1, 1, 1]
    finally:
        sch.close()


def test_a_cancelled_job_stops_at_a_chunk_boundary_and_others_finish(tiny, frame):
    cs = tiny.spec.chunk_size
    long = np.zeros((1, 40 * cs, 2), np.float32)
    sch = Scheduler(tiny)
    try:
        doomed = job_for(tiny, frame, long, seed=0, num_steps=50)
        other = job_for(tiny, frame, long[:, : 2 * cs], seed=1)
        sch.submit(doomed)
        sch.submit(other)
        time.sleep(0.3)
        doomed.cancel()
        with pytest.raises(JobCancelled):
            doomed.future.result(60)
        assert other.future.result(60).frames.shape[1] == 2 * cs
        assert sch.steps < 40
    finally:
        sch.close()


def test_a_full_queue_refuses_new_jobs(tiny, frame, actions):
    sch = Scheduler(tiny, max_queue=1, batching=False)
    gate = threading.Event()
    real = tiny.step

    def held_step(*a, **k):
        gate.wait(30)
        return real(*a, **k)

    try:
        tiny.step = held_step
        running = job_for(tiny, frame, actions[None], seed=0)
        sch.submit(running)
        time.sleep(0.2)
        sch.submit(job_for(tiny, frame, actions[None], seed=1))
        with pytest.raises(QueueFull) as info:
            sch.submit(job_for(tiny, frame, actions[None], seed=2))
        assert info.value.retry_after_s >= 1
    finally:
        gate.set()
        del tiny.step
        sch.close()


def test_close_finishes_queued_jobs_first(tiny, frame, actions):
    sch = Scheduler(tiny)
    jobs = [job_for(tiny, frame, actions[None], seed=s) for s in range(3)]
    for job in jobs:
        sch.submit(job)
    sch.close()
    assert all(job.future.done() and job.future.exception() is None for job in jobs)
