"""Random shooting: sample K sequences around a reference plan, keep the best."""

from __future__ import annotations

import numpy as np
import torch

from .base import PlanResult, TrajectoryOptimizer, real_param


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
        std = real_param("std", std, low=0)
        beta = real_param("beta", beta, low=0)
        self.std, self.beta, self.uniform = std, beta, uniform

    def _optimize(self, frame: np.ndarray, base: torch.Tensor) -> PlanResult:
        half = (self.high - self.low) / 2
        best = (base, float("-inf"))
        history = []
        for it in range(self.iterations):
            extra = self.injected(best[0]) if it == 0 else best[0][None]
            n = max(self.population - len(extra), 0)
            if self.uniform:
                samples = self.low + (self.high - self.low) * torch.rand((n, *base.shape), generator=self.generator)
            else:
                samples = best[0] + self.std * half * self.noise(n, self.beta)
            cands = self.clip(torch.cat([extra, samples]))[: max(self.population, 1)]
            scores, frames = self.evaluate(frame, cands)
            best = self._record(it, cands, scores, best, history)
        return PlanResult(best[0].numpy(), best[1], cands.numpy(), scores.numpy().astype(np.float32), frames, history)
