"""One-row DiT calls through a traced graph, to take Python out of the row workers.

In the deterministic CPU mode the DiT runs one row per call on several worker threads. At
``push-64`` size a call is ~60 small ATen ops whose Python dispatch holds the GIL, so two
workers got only ~1.4x the throughput of one. :class:`RowDiT` records the one-row forward
once per input shape with ``torch.jit.trace`` and replays it with the graph executor's
optimisations off: the replay issues the same ATen calls with the same shapes as the eager
forward, so its results are the same bits (tested against eager for both small specs), and
it runs them in C++ without the GIL.

If tracing is unavailable (``torch.jit`` is deprecated upstream) or fails, the eager forward
is used: same results, only slower.
"""

from __future__ import annotations

import threading
import warnings

import torch
from torch import nn


class _WithActions(nn.Module):
    def __init__(self, dit: nn.Module, context_kv) -> None:
        super().__init__()
        self.dit, self.context_kv = dit, context_kv

    def forward(self, x, mask, sigma, actions):
        return self.dit(x, mask, sigma, actions, self.context_kv)


class _WithoutActions(_WithActions):
    def forward(self, x, mask, sigma):
        return self.dit(x, mask, sigma, None, self.context_kv)


class RowDiT:
    """Callable like :class:`~engine.networks.ActionConditionedDiT` (``(x, mask, sigma,
    actions)``) with the context keys/values precomputed, replaying a traced graph per
    distinct input shape.

    Args:
        dit: the DiT (eval mode, frozen weights: a graph keeps what it saw).
        context_kv: its ``context_kv()``, baked into the graphs.
        enabled: False calls the eager forward (for comparison and as the fallback).
    """

    def __init__(self, dit: nn.Module, context_kv, *, enabled: bool = True) -> None:
        self.dit, self.context_kv, self.enabled = dit, context_kv, enabled
        self._graphs: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def _graph(self, key: tuple, args: tuple):
        graph = self._graphs.get(key)
        if graph is None:
            with self._lock:
                graph = self._graphs.get(key)
                if graph is None:
                    module = (_WithActions if len(args) == 4 else _WithoutActions)(self.dit, self.context_kv)
                    try:
                        with warnings.catch_warnings(), torch.no_grad():
                            warnings.simplefilter("ignore")
                            graph = torch.jit.trace(module, args, check_trace=False)
                    except Exception:  # noqa: BLE001 - eager gives the same bits
                        graph = module
                    self._graphs[key] = graph
        return graph

    def __call__(self, x, mask, sigma, actions):
        if not self.enabled:
            return self.dit(x, mask, sigma, actions, self.context_kv)
        args = (x, mask, sigma) if actions is None else (x, mask, sigma, actions)
        key = tuple((tuple(a.shape), a.dtype, a.device) for a in args)
        graph = self._graph(key, args)
        with torch.jit.optimized_execution(False):  # no graph rewrites: the eager ATen calls
            return graph(*args)
