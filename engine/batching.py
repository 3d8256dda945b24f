"""Dynamic batching for an in-process engine: continuous batching at chunk granularity.

The server (:mod:`engine.serving`) and bulk generation (:mod:`engine.bulk`) both run their rows
through it.

Every request becomes a :class:`Job` of R rows. A row is one rollout: either a new one (a
start frame and a seed) or a live session row (an :class:`~engine.EngineState` of one row),
plus the action chunks it still has to run. One scheduler thread owns the engine and loops:

1. admit waiting jobs (when idle it waits for the first; if its latest step served several
   requests, it then waits ``wait_ms`` more for company),
2. start the new rows (their start-frame latents come through the engine's cache),
3. advance every active row by one chunk, rows that share ``(num_steps, guidance)`` in one
   ``Engine.step`` call of at most ``max_rows`` rows,
4. finish the jobs whose rows have run all their chunks, and drop the rows of jobs that were
   cancelled (client gone) or ran past their deadline.

Rows of different requests, with different start frames, seeds and lengths, run together
and join or leave at chunk boundaries. In the engine's deterministic mode (the CPU default)
each row is computed alone, so a row's frames are the bytes ``Engine.predict`` gives for it
alone, whatever else was in the batch. With ``batching=False`` one job runs at a time (the
baseline the serving benchmark compares against).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

import numpy as np

from .engine import EngineState
from .protocol import WorldModel


class QueueFull(Exception):
    """The scheduler's queue holds ``max_queue`` jobs already (the server answers 429)."""

    def __init__(self, depth: int, retry_after_s: float) -> None:
        super().__init__(f"the queue is full ({depth} requests waiting)")
        self.depth = depth
        self.retry_after_s = retry_after_s


class JobCancelled(Exception):
    """The job was cancelled (its client went away) before it finished."""


class JobTimeout(Exception):
    """The job ran past its deadline; its rows were dropped at a chunk boundary."""


class SchedulerClosed(Exception):
    """The scheduler is shutting down and takes no new jobs."""


@dataclass
class JobResult:
    """What a finished job gives back.

    frames: (R, n * chunk_size, H, W, 3) uint8, the predicted frames of each row.
    states: each row's final one-row :class:`EngineState` (what a session keeps).
    wall_s: from the job's admission to its end. batch_rows: the largest engine step it was in.
    """

    frames: np.ndarray
    states: list[EngineState]
    wall_s: float
    queued_s: float
    batch_rows: int
    batch_jobs: int


@dataclass
class Job:
    """One request: R rows, each with ``n`` action chunks to run.

    Give either ``start_frames`` (R, H, W, 3) uint8 with ``seeds``, or ``states`` (R live
    one-row states, for sessions). ``chunks``: (R, n, chunk_size, A) float32, validated.
    ``discard_frames``: run the chunks but keep no frames (replaying a session's history).
    """

    chunks: np.ndarray
    num_steps: int
    guidance: float
    start_frames: np.ndarray | None = None
    seeds: list[int] | None = None
    states: list[EngineState] | None = None
    deadline: float | None = None
    discard_frames: bool = False
    future: Future = field(default_factory=Future)
    # bookkeeping, owned by the scheduler thread
    submitted: float = field(default_factory=time.monotonic)
    admitted: float = 0.0
    cancelled: bool = False
    _out: np.ndarray | None = None
    _states: list = field(default_factory=list)
    _left: int = 0
    batch_rows: int = 0
    batch_jobs: int = 0

    @property
    def rows(self) -> int:
        return int(self.chunks.shape[0])

    def cancel(self) -> None:
        """Ask the scheduler to drop this job at the next chunk boundary."""
        self.cancelled = True


@dataclass
class _Row:
    job: Job
    index: int  # row within its job
    state: EngineState | None
    next_chunk: int = 0


class Scheduler:
    """One thread that runs an in-process engine (:class:`~engine.Engine` or a world's exact
    model) over the rows of many requests.

    Args:
        engine: the engine it owns (nothing else should call it while the scheduler runs,
            though the engine would stay correct if something did).
        max_rows: most rows in one engine step (larger jobs run over several steps).
        wait_ms: how long an idle scheduler whose latest step served several requests waits,
            after the first new job arrives, for more (a lone client never waits).
        max_queue: most jobs waiting for admission; :meth:`submit` raises :class:`QueueFull`
            beyond it.
        batching: False runs one job at a time, start to end (no dynamic batching).
    """

    def __init__(
        self,
        engine: WorldModel,
        *,
        max_rows: int = 32,
        wait_ms: float = 30.0,
        max_queue: int = 256,
        batching: bool = True,
    ) -> None:
        self.engine = engine
        self.max_rows = max_rows
        self.wait_s = wait_ms / 1000.0
        self.max_queue = max_queue
        self.batching = batching
        self._queue: deque[Job] = deque()
        self._active: list[_Row] = []
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="dreamgym-scheduler", daemon=True)
        self._step_s = 0.5  # running estimate of one engine step, for Retry-After
        self._last_jobs = 0  # requests in the latest engine step
        self.steps = 0
        self.on_step = None  # optional callback(rows, jobs, seconds), e.g. metrics
        self._thread.start()

    # --- client side ------------------------------------------------------------------------
    def submit(self, job: Job) -> Future:
        """Queue a job; returns its future (a :class:`JobResult`, or an exception)."""
        with self._cv:
            if self._closed:
                raise SchedulerClosed("the server is shutting down")
            if len(self._queue) >= self.max_queue:
                raise QueueFull(len(self._queue), self.retry_after_s())
            self._queue.append(job)
            self._cv.notify()
        return job.future

    def retry_after_s(self) -> float:
        """A guess at when a slot frees up: one engine step per queued job, at least 1 s."""
        return max(1.0, round(self._step_s * (1 + len(self._queue) / max(1, self.max_rows)), 1))

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    @property
    def active_rows(self) -> int:
        return len(self._active)

    def close(self, timeout: float | None = None) -> None:
        """Stop taking jobs, finish the admitted and queued ones, then stop the thread."""
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join(timeout)

    # --- the loop ---------------------------------------------------------------------------
    def _admit(self) -> list[Job]:
        with self._cv:
            while not self._queue and not self._active and not self._closed:
                self._cv.wait()
            if not self._queue:
                return []
            if not self._active and self.batching and self._last_jobs > 1:
                # idle after serving several clients at once: they come back spread over tens of
                # milliseconds, so wait a moment for company (a lone client never waits)
                deadline = time.monotonic() + self.wait_s
                while len(self._queue) < self.max_rows and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cv.wait(left)
            taken = []
            if not self.batching:
                if not self._active:
                    taken.append(self._queue.popleft())
                return taken
            rows = len(self._active)
            while self._queue and (rows < self.max_rows or not taken and not self._active):
                job = self._queue.popleft()
                taken.append(job)
                rows += job.rows
            return taken

    def _run(self) -> None:
        while True:
            jobs = self._admit()
            if not jobs and not self._active:
                if self._closed:
                    return
                continue
            now = time.monotonic()
            for job in jobs:
                if not job.future.set_running_or_notify_cancel():
                    continue
                job.admitted = now
                if job.cancelled:
                    job.future.set_exception(JobCancelled("the request was cancelled"))
                elif job.deadline is not None and now > job.deadline:
                    job.future.set_exception(JobTimeout("the request waited in the queue past its deadline"))
                else:
                    self._start(job)
            self._reap()
            if self._active:
                self._step()
                self._reap()

    def _start(self, job: Job) -> None:
        r, n = job.rows, job.chunks.shape[1]
        cs = self.engine.spec.chunk_size
        h, w = self.engine.spec.resolution
        job._left = r
        job._states = [None] * r
        if not job.discard_frames:
            job._out = np.empty((r, n * cs, h, w, 3), dtype=np.uint8)
        try:
            if job.states is None:
                state = self.engine.start(job.start_frames, job.seeds, job.num_steps, job.guidance)
                states = [state.select([i]) for i in range(r)]
            else:
                states = [replace(s, num_steps=job.num_steps, guidance=job.guidance, extra={}) for s in job.states]
        except Exception as e:  # noqa: BLE001 - handed to the waiting request
            job.future.set_exception(e)
            return
        if n == 0:
            job._states = states
            self._finish(job)
            return
        self._active.extend(_Row(job, i, st) for i, st in enumerate(states))

    def _step(self) -> None:
        rows = self._active[: self.max_rows]
        groups: dict[tuple, list[_Row]] = {}
        for row in rows:
            groups.setdefault((row.state.num_steps, row.state.guidance), []).append(row)
        jobs = {id(row.job) for row in rows}
        t0 = time.perf_counter()
        for group in groups.values():
            state = type(group[0].state).concat([row.state for row in group])
            chunks = np.stack([row.job.chunks[row.index, row.next_chunk] for row in group])
            try:
                frames, new = self.engine.step(state, chunks)
            except Exception as e:  # noqa: BLE001 - every job in the group gets the error
                for row in group:
                    if not row.job.future.done():
                        row.job.future.set_exception(e)
                continue
            cs = chunks.shape[1]
            for j, row in enumerate(group):
                job = row.job
                if job._out is not None:
                    job._out[row.index, row.next_chunk * cs : (row.next_chunk + 1) * cs] = frames[j]
                row.state = new.select([j])
                row.next_chunk += 1
                job.batch_rows = max(job.batch_rows, len(rows))
                job.batch_jobs = max(job.batch_jobs, len(jobs))
        dt = time.perf_counter() - t0
        self._last_jobs = len(jobs)
        self._step_s = 0.8 * self._step_s + 0.2 * dt
        self.steps += 1
        if self.on_step is not None:
            self.on_step(len(rows), len(jobs), dt)
        # rows that got a step go to the back: a job larger than max_rows cannot starve others
        self._active = self._active[len(rows) :] + rows

    def _reap(self) -> None:
        now = time.monotonic()
        keep = []
        for row in self._active:
            job = row.job
            if job.future.done():
                continue
            if job.cancelled:
                job.future.set_exception(JobCancelled("the request was cancelled"))
                continue
            if job.deadline is not None and now > job.deadline:
                job.future.set_exception(JobTimeout("the request ran past its deadline"))
                continue
            if row.next_chunk == job.chunks.shape[1]:
                job._states[row.index] = row.state
                job._left -= 1
                if job._left == 0:
                    self._finish(job)
                continue
            keep.append(row)
        self._active = keep

    def _finish(self, job: Job) -> None:
        now = time.monotonic()
        job.future.set_result(
            JobResult(
                frames=job._out,
                states=job._states,
                wall_s=now - job.admitted,
                queued_s=job.admitted - job.submitted,
                batch_rows=job.batch_rows,
                batch_jobs=job.batch_jobs,
            )
        )
