"""The cross-entropy method over action sequences, with the iCEM options."""

from __future__ import annotations

import numpy as np
import torch

from engine.validation import as_int, as_real

from .base import TrajectoryOptimizer


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
        elites = as_int(elites, "elites", low=1, high=self.population)
        init_std = as_real(init_std, "init_std", low=0, open_low=True)  # units of the half action range
        min_std = as_real(min_std, "min_std", low=0)
        momentum = as_real(momentum, "momentum", low=0, high=1, open_high=True)
        beta = as_real(beta, "beta", low=0)
        keep_elites = as_real(keep_elites, "keep_elites", low=0, high=1)
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

    def start_search(self, base: torch.Tensor) -> dict:
        n_keep = int(round(self.keep_elites * self.n_elites))
        return {
            "mean": base.clone(),
            "std": torch.full_like(base, self.init_std * ((self.high - self.low) / 2)),
            "carried": self._kept if (n_keep and self._kept is not None) else None,
            "n_keep": n_keep,
        }

    def propose(self, state: dict, iteration: int, best: torch.Tensor) -> torch.Tensor:
        mean, carried = state["mean"], state["carried"]
        parts = [self.injected(mean)] if iteration == 0 else []
        if carried is not None:
            parts.append(carried[: state["n_keep"]])
        fixed = torch.cat(parts) if parts else torch.empty(0, *mean.shape)
        n = max(self.population - len(fixed), 1)
        samples = self.clip(mean + state["std"] * self.noise(n, self.beta))
        return torch.cat([fixed, samples])[: max(self.population, 1)]

    def update(self, state: dict, candidates: torch.Tensor, scores: torch.Tensor) -> tuple:
        half = (self.high - self.low) / 2
        order = torch.argsort(scores, descending=True)
        elite = candidates[order[: self.n_elites]]
        new_mean, new_std = elite.mean(0), elite.std(0, unbiased=False)
        mean = self.momentum * state["mean"] + (1 - self.momentum) * new_mean
        std = (self.momentum * state["std"] + (1 - self.momentum) * new_std).clamp_min(self.min_std * half)
        notes = {"elite_mean": float(scores[order[: self.n_elites]].mean()), "std": float(std.mean())}
        return {**state, "mean": mean, "std": std, "carried": elite}, notes

    def finish(self, state: dict, best: tuple, frame: np.ndarray) -> tuple:
        self._kept = state["carried"].clone() if state["n_keep"] else None
        if self.return_mean:  # the final mean, scored with one extra rollout
            mean = self.clip(state["mean"])
            mean_score, frames = self.evaluate(frame, mean[None])
            return mean.numpy(), float(mean_score[0]), None if frames is None else frames[0]
        return best[0].numpy(), best[1], best[2]
