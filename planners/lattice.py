"""Lattice search: a few discrete strategies around a base plan."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from engine.validation import as_real

from .base import TrajectoryOptimizer


def lattice_candidates(
    base: np.ndarray, deltas=(0.5, 1.0), scales=(0.5, 1.5), low=-1.0, high=1.0, diagonals: bool = True
) -> np.ndarray:
    """Strategies around ``base`` (T, A): the base; ``base +/- d * e_j`` for every action
    dimension j and offset d; ``base + d * s`` for every sign vector s (when ``diagonals``,
    small action spaces only); ``scale * base``. Clipped to the bounds; (M, T, A) float32."""
    base = np.asarray(base, dtype=np.float32)
    a = base.shape[-1]
    out = [base]
    for d in deltas:
        for j in range(a):
            e = np.zeros(a, np.float32)
            e[j] = d
            out += [base + e, base - e]
        if diagonals and a <= 4:
            for signs in itertools.product((-1.0, 1.0), repeat=a):
                out.append(base + d * np.asarray(signs, np.float32) / np.sqrt(a))
    out += [base * s for s in scales]
    return np.clip(np.stack(out), low, high).astype(np.float32)


class Lattice(TrajectoryOptimizer):
    """Evaluate :func:`lattice_candidates` around the base plan; with ``iterations > 1`` move
    to the best and shrink the offsets by ``shrink`` (a pattern search). ``population`` caps
    the candidates per iteration (the lattice is truncated if larger, and topped up with
    random sign combinations at random offsets if smaller).

    ``Lattice(...).candidates(base)`` gives the strategies alone, to inject into another
    planner through ``extra_candidates``.
    """

    def __init__(self, model, scorer, *, deltas=(0.5, 1.0), scales=(0.5, 1.5), shrink: float = 0.5, **kw):
        super().__init__(model, scorer, **kw)
        deltas = tuple(as_real(d, f"deltas[{i}]", low=0, open_low=True) for i, d in enumerate(deltas))
        scales = tuple(as_real(c, f"scales[{i}]", low=0) for i, c in enumerate(scales))
        if not deltas:
            raise ValueError("deltas must hold at least one step size")
        shrink = as_real(shrink, "shrink", low=0, high=1, open_low=True)
        self.deltas, self.scales, self.shrink = deltas, scales, shrink

    def candidates(self, base: np.ndarray, deltas=None) -> np.ndarray:
        return lattice_candidates(base, deltas or self.deltas, self.scales, self.low, self.high)

    def start_search(self, base: torch.Tensor) -> tuple:
        return self.deltas  # the offsets of the current iteration

    def propose(self, deltas: tuple, iteration: int, best: torch.Tensor) -> torch.Tensor:
        cands = torch.as_tensor(self.candidates(best.numpy(), deltas))
        if iteration == 0 and self.extra_candidates is not None:
            cands = torch.cat([cands, self.injected(best)[1:]])
        if len(cands) < self.population:
            n = self.population - len(cands)
            signs = torch.randint(0, 2, (n, 1, self.action_dim), generator=self.generator) * 2.0 - 1.0
            mags = torch.rand((n, 1, 1), generator=self.generator) * max(deltas)
            cands = torch.cat([cands, self.clip(best + signs * mags)])
        return cands[: self.population]

    def update(self, deltas: tuple, candidates: torch.Tensor, scores: torch.Tensor) -> tuple:
        return tuple(d * self.shrink for d in deltas), {}
