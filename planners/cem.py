"""The cross-entropy method over action sequences, with the iCEM options."""

from __future__ import annotations

import numpy as np
import torch

from .base import PlanResult, TrajectoryOptimizer, int_param, real_param


class CEM(TrajectoryOptimizer):
    """Iteratively refit a diagonal Gaussian over action sequences to the elites.

    Args (besides the base ones):
        elites: number of elite samples refit each iteration.
        init_std: initial std in units of the half action range.
        min_std: the std never falls below this (same units).
        momentum: ``new = momentum * old + (1 - momentum) * elite_fit`` for mean and std.
        beta: coloured-noise exponent (iCEM; 0 = white noise, 2 = strongly correlated in time).
        keep_elites: fraction of elites carried into the next iteration's population and into
            the next ``plan`` call (shifted with the warm start), as in iCEM.
        return_mean: return the final mean (default; more robust with a learned model, and it
            is scored with one extra rollout) instead of the best sample seen.
    """

    def __init__(
        self,
        model,
        scorer,
        *,
        elites: int = 6,
        init_std: float = 0.5,
        min_std: float = 0.05,
        momentum: float = 0.1,
        beta: float = 0.0,
        keep_elites: float = 0.0,
        return_mean: bool = True,
        **kw,
    ):
        super().__init__(model, scorer, **kw)
        elites = int_param("elites", elites, high=self.population)
        init_std = real_param("init_std", init_std, low=0, open_low=True)  # units of the half action range
        min_std = real_param("min_std", min_std, low=0)
        momentum = real_param("momentum", momentum, low=0, high=1, open_high=True)
        beta = real_param("beta", beta, low=0)
        keep_elites = real_param("keep_elites", keep_elites, low=0, high=1)
        self.n_elites, self.init_std, self.min_std = elites, init_std, min_std
        self.momentum, self.beta, self.keep_elites, self.return_mean = momentum, beta, keep_elites, return_mean
        self._kept: torch.Tensor | None = None

    def reset(self) -> None:
        super().reset()
        self._kept = None

    def shift(self, executed: int, plan) -> None:
        super().shift(executed, plan)
        if self._kept is not None and executed:
            k = self._kept
            self._kept = torch.cat([k[:, executed:], k[:, -1:].expand(-1, min(executed, self.horizon), -1)], 1)[
                :, : self.horizon
            ]

    def _optimize(self, frame: np.ndarray, base: torch.Tensor) -> PlanResult:
        half = (self.high - self.low) / 2
        mean = base.clone()
        std = torch.full_like(mean, self.init_std * half)
        best = (mean.clone(), float("-inf"))
        n_keep = int(round(self.keep_elites * self.n_elites))
        history = []
        carried = self._kept if (n_keep and self._kept is not None) else None
        for it in range(self.iterations):
            parts = [self.injected(mean)] if it == 0 else []
            if carried is not None:
                parts.append(carried[:n_keep])
            fixed = torch.cat(parts) if parts else torch.empty(0, *mean.shape)
            n = max(self.population - len(fixed), 1)
            samples = self.clip(mean + std * self.noise(n, self.beta))
            cands = torch.cat([fixed, samples])[: max(self.population, 1)]
            scores, frames = self.evaluate(frame, cands)
            order = torch.argsort(scores, descending=True)
            elite = cands[order[: self.n_elites]]
            new_mean, new_std = elite.mean(0), elite.std(0, unbiased=False)
            mean = self.momentum * mean + (1 - self.momentum) * new_mean
            std = (self.momentum * std + (1 - self.momentum) * new_std).clamp_min(self.min_std * half)
            carried = elite
            best = self._record(
                it,
                cands,
                scores,
                best,
                history,
                elite_mean=float(scores[order[: self.n_elites]].mean()),
                std=float(std.mean()),
            )
        self._kept = carried.clone() if n_keep else None
        if self.return_mean:
            mean = self.clip(mean)
            mean_score, _ = self.evaluate(frame, mean[None])
            return PlanResult(
                mean.numpy(), float(mean_score[0]), cands.numpy(), scores.numpy().astype(np.float32), frames, history
            )
        return PlanResult(best[0].numpy(), best[1], cands.numpy(), scores.numpy().astype(np.float32), frames, history)
