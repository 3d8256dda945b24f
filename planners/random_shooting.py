"""Random shooting: sample K sequences around a reference plan, keep the best."""

from __future__ import annotations

import torch

from engine.validation import as_real

from .base import TrajectoryOptimizer


class RandomShooting(TrajectoryOptimizer):
    """Sample ``population`` sequences ``base + std * noise`` (clipped to the bounds) per
    iteration, always including the base plan (the warm start), and keep the best. With
    ``iterations > 1`` each iteration re-centres on the best so far.

    Args (besides the base ones): ``std`` (in units of the half action range, default 0.5),
    ``beta`` (0: white noise; > 0: coloured noise along time), ``uniform`` (sample uniformly
    over the bounds instead of around the base).
    """

    def __init__(self, model, scorer, *, std: float = 0.5, beta: float = 0.0, uniform: bool = False, **kw):
        super().__init__(model, scorer, **kw)
        std = as_real(std, "std", low=0)
        beta = as_real(beta, "beta", low=0)
        self.std, self.beta, self.uniform = std, beta, uniform

    def propose(self, state, iteration: int, best: torch.Tensor) -> torch.Tensor:
        extra = self.injected(best) if iteration == 0 else best[None]
        n = max(self.population - len(extra), 0)
        if self.uniform:
            samples = self.low + (self.high - self.low) * torch.rand((n, *best.shape), generator=self.generator)
        else:
            half = (self.high - self.low) / 2
            samples = best + self.std * half * self.noise(n, self.beta)
        return self.clip(torch.cat([extra, samples]))[: max(self.population, 1)]
