"""Row workers: run per-row work on CPU threads that each compute with one intra-op thread.

Why: on CPU a kernel's result depends on its shapes and on how many threads split it. MKL's
GEMM gives a row a different result when the call has a different number of rows, also at
one thread, and most kernels (GEMM, oneDNN convolutions) give different bits at 1 and 2
threads. The engine's deterministic mode therefore computes every row of a batch alone
(shapes independent of the batch) on a :class:`RowPool` worker whose intra-op thread count
is pinned to 1 (bits independent of ``torch.set_num_threads``); parallelism comes from
running rows side by side on several workers instead of splitting one kernel.

Pools are shared per process by size (:func:`row_pool`), so many engines do not multiply
threads; several caller threads may submit to one pool at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from queue import SimpleQueue
from typing import Any

import torch

from .validation import as_int

_POOLS: dict[int, RowPool] = {}
_POOLS_LOCK = threading.Lock()
_ON_WORKER = threading.local()


class RowPool:
    """``size`` daemon threads, each computing torch ops with exactly one intra-op thread.

    ``map(fn, items)`` runs ``fn(item)`` on the workers and returns the results in order; an
    exception in any item is raised in the caller (after every item has finished).
    """

    def __init__(self, size: int) -> None:
        size = as_int(size, "RowPool size", low=1)
        self.size = size
        self._tasks: SimpleQueue = SimpleQueue()
        # torch.set_num_threads in a worker also sets the process-wide default that threads
        # started later inherit: read it here and put it back once every worker is pinned.
        caller_threads = torch.get_num_threads()
        ready = threading.Barrier(size + 1)
        self._threads = [
            threading.Thread(target=self._work, args=(ready,), name=f"dreamgym-row-{i}", daemon=True)
            for i in range(size)
        ]
        for t in self._threads:
            t.start()
        ready.wait()
        torch.set_num_threads(caller_threads)

    def _work(self, ready: threading.Barrier) -> None:
        torch.get_num_threads()  # initialise this thread's OpenMP/MKL settings first ...
        torch.set_num_threads(1)  # ... then pin them: one intra-op thread in this worker
        _ON_WORKER.active = True
        ready.wait()
        while True:
            fn, item, fut = self._tasks.get()
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(item))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if getattr(_ON_WORKER, "active", False):  # called from a worker: already pinned, run here
            return [fn(item) for item in items]
        futures = []
        for item in items:
            fut: Future = Future()
            self._tasks.put((fn, item, fut))
            futures.append(fut)
        wait(futures)  # every item finishes before an error is raised
        return [f.result() for f in futures]


def _forget_pools_in_child() -> None:
    """A forked child has none of the parent's worker threads: start afresh there."""
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools_in_child)


def row_pool(size: int) -> RowPool:
    """The process-wide :class:`RowPool` with ``size`` workers (created on first use)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(size)
        if pool is None:
            pool = _POOLS[size] = RowPool(size)
        return pool
