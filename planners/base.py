"""What every planner shares: the protocols, the result, and the trajectory-optimiser base.

* :class:`RolloutModel` — ``spec`` + ``predict_batch(start_frame, actions_KTA, seed)``: the
  local engine, a remote client and the exact toy world all satisfy it.
* :class:`Scorer` — ``scorer(frames_KTHW3, actions_KTA) -> scores (K,)``, higher is better.
* :class:`TrajectoryOptimizer` — owns the action bounds, the seeded ``torch.Generator``, the
  warm start (previous plan shifted by the executed actions, seeded as a candidate), the
  split of K candidates into micro-batches, NaN handling, the search loop, history, callbacks,
  timing and the :class:`PlanResult`. A solver supplies ``propose`` (and, if it keeps a search
  distribution, ``start_search`` / ``update``; ``finish`` to return something other than the
  best candidate).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.protocol import LatentRolloutModel, RolloutModel
from engine.scoring import nan_to_worst
from engine.validation import as_int


@dataclass
class PlanResult:
    """One call of ``plan``.

    Attributes:
        actions: (T, A) float32, the plan.
        score: the model's score of ``actions`` (higher is better).
        candidates: (K, T, A) float32, the last iteration's candidates.
        scores: (K,) float32, their scores.
        frames: (K, T, H, W, 3) uint8, the last iteration's predicted frames (None if not kept).
        plan_frames: (T, H, W, 3) uint8, the model's frames of ``actions`` when the planner
            rolled the returned plan out (None for a scorer that reads latents).
        history: one dict per iteration (best, mean, elite mean score, std).
        model_calls: number of ``predict_batch`` calls; rollouts: candidates rolled out.
        wall_s: planning wall time.
    """

    actions: np.ndarray
    score: float
    candidates: np.ndarray
    scores: np.ndarray
    frames: np.ndarray | None = None
    history: list[dict] = field(default_factory=list)
    plan_frames: np.ndarray | None = None
    model_calls: int = 0
    rollouts: int = 0
    wall_s: float = 0.0


def check_scorer_fits(scorer, spec, horizon: int) -> None:
    """Before any rollout: a scorer's goal image must have the model's resolution and its
    explicit time weights one entry per planned frame (checked for scorers that expose
    ``goal`` (3, H, W) and ``weighting``, as :class:`~planners.scorers.GoalDistance` does)."""
    goal = getattr(scorer, "goal", None)
    if isinstance(goal, torch.Tensor) and goal.ndim == 3 and tuple(goal.shape[-2:]) != tuple(spec.resolution):
        raise ValueError(
            f"the scorer's goal image is {tuple(goal.shape[-2:])} (H, W); the model {spec.name!r} predicts "
            f"{tuple(spec.resolution)} frames"
        )
    weighting = getattr(scorer, "weighting", None)
    if weighting is not None and not isinstance(weighting, str) and len(np.asarray(weighting)) != horizon:
        raise ValueError(
            f"the scorer's time weights have {len(np.asarray(weighting))} entries; "
            f"the plan has horizon = {horizon} frames"
        )
    for _, inner in getattr(scorer, "pairs", []):
        check_scorer_fits(inner, spec, horizon)


def to_scores(values, k: int) -> torch.Tensor:
    """Scores as float64 (K,) with NaN mapped to -inf (the worst score)."""
    s = values.detach().cpu() if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values))
    s = s.to(torch.float64).reshape(-1)
    if s.shape[0] != k:
        raise ValueError(f"the scorer must return one score per candidate ({k}), got shape {tuple(s.shape)}")
    return nan_to_worst(s)


def _colour_amplitudes(t: int, beta: float) -> torch.Tensor:
    freqs = torch.fft.rfftfreq(t)
    freqs[0] = freqs[1] if t > 1 else 1.0  # the constant component gets the lowest frequency's power
    return freqs ** (-beta / 2)


@functools.lru_cache(maxsize=64)
def _colour_scale(t: int, beta: float) -> float:
    """Std of unnormalised coloured noise, measured once on a fixed generator, so that samples
    have unit variance without removing each sample's own mean (which would forbid shifts
    of the whole sequence)."""
    g = torch.Generator().manual_seed(0)
    amp = _colour_amplitudes(t, beta)
    z = torch.complex(torch.randn((4096, len(amp)), generator=g), torch.randn((4096, len(amp)), generator=g))
    return float(torch.fft.irfft(z * amp, n=t).std())


class TrajectoryOptimizer:
    """Base of every planner.

    Args:
        model: a :class:`RolloutModel`.
        scorer: a :class:`Scorer`.
        horizon: actions per plan, a positive multiple of ``model.spec.chunk_size``.
        population: candidates per iteration.
        iterations: refinement iterations.
        seed: seed of the planner's ``torch.Generator`` (same seed, same plan).
        rollout_seed: the model's noise seed, shared by all candidates so scores compare
            actions, not noise.
        max_batch: candidates per ``predict_batch`` call (bounds memory); None = all at once.
        extra_candidates: callable ``base (T, A) -> (M, T, A)`` injected in the first iteration
            (e.g. ``Lattice(...).candidates``).
        callback: called after every iteration with ``(iteration, info_dict)``.
        keep_frames: keep the last iteration's predicted frames in the result.
    """

    def __init__(
        self,
        model: RolloutModel,
        scorer: Callable,
        *,
        horizon: int,
        population: int = 32,
        iterations: int = 1,
        seed: int = 0,
        rollout_seed: int = 0,
        max_batch: int | None = None,
        extra_candidates: Callable | None = None,
        callback: Callable | None = None,
        keep_frames: bool = True,
    ) -> None:
        if not isinstance(model, RolloutModel):
            raise TypeError(
                "model must be a RolloutModel (a .spec and a .predict_batch(start_frame, actions, seed)), "
                f"e.g. an engine.Engine; got {type(model).__name__}"
            )
        if not callable(scorer):
            raise TypeError(f"scorer must be callable as scorer(frames, actions) -> (K,) scores, got {scorer!r}")
        spec = model.spec
        horizon = as_int(horizon, "horizon", low=1)
        if horizon % spec.chunk_size:
            raise ValueError(f"horizon must be a positive multiple of chunk_size = {spec.chunk_size}, got {horizon}")
        population = as_int(population, "population", low=1)
        iterations = as_int(iterations, "iterations", low=1)
        seed, rollout_seed = as_int(seed, "seed", low=0), as_int(rollout_seed, "rollout_seed", low=0)
        if max_batch is not None:
            max_batch = as_int(max_batch, "max_batch", low=1)
        check_scorer_fits(scorer, spec, horizon)
        self.reads = getattr(scorer, "reads", "frames")
        if self.reads not in ("frames", "latents"):
            raise ValueError(f"scorer.reads must be 'frames' or 'latents', got {self.reads!r}")
        if self.reads == "latents" and not isinstance(model, LatentRolloutModel):
            raise TypeError(
                "the scorer reads latents (scorer.reads == 'latents'), so the model must roll out to latents "
                f"(predict_latents and encode_still, e.g. a local engine.Engine); got {type(model).__name__}"
            )
        self.model, self.scorer = model, scorer
        self.horizon, self.population, self.iterations = horizon, population, iterations
        self.action_dim = spec.action_dim
        self.low, self.high = float(spec.action_low), float(spec.action_high)
        self.seed, self.rollout_seed = seed, rollout_seed
        self.max_batch = max_batch
        self.extra_candidates, self.callback = extra_candidates, callback
        self.keep_frames = keep_frames
        self.generator = torch.Generator().manual_seed(seed)
        self._warm: torch.Tensor | None = None
        self._calls = self._rollouts = 0

    # --- warm start ---------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the previous plan and reseed the generator."""
        self._warm = None
        self.generator.manual_seed(self.seed)

    def shift(self, executed: int, plan: np.ndarray | torch.Tensor) -> None:
        """Warm start from ``plan`` shifted by the ``executed`` actions; the tail repeats the
        last action."""
        p = torch.as_tensor(np.asarray(plan), dtype=torch.float32)
        if p.shape != (self.horizon, self.action_dim):
            raise ValueError(f"plan must be ({self.horizon}, {self.action_dim}), got {tuple(p.shape)}")
        if not 0 <= executed <= self.horizon:
            raise ValueError(f"executed must be in [0, {self.horizon}], got {executed}")
        tail = p[-1:].expand(executed, -1)
        self._warm = torch.cat([p[executed:], tail]) if executed < self.horizon else tail.clone()

    def base_plan(self, init=None) -> torch.Tensor:
        """The plan to search around: ``init`` if given, else the warm start, else the bounds' middle."""
        if init is not None:
            p = torch.as_tensor(np.asarray(init), dtype=torch.float32)
            if p.shape != (self.horizon, self.action_dim):
                raise ValueError(f"init must have shape ({self.horizon}, {self.action_dim}), got {tuple(p.shape)}")
            if not torch.isfinite(p).all():
                raise ValueError(f"init must be finite; it holds {int((~torch.isfinite(p)).sum())} NaN or inf values")
            return self.clip(p)
        if self._warm is not None:
            return self._warm.clone()
        return torch.full((self.horizon, self.action_dim), (self.low + self.high) / 2)

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(self.low, self.high)

    # --- evaluation -----------------------------------------------------------------------
    def evaluate(self, frame: np.ndarray, candidates: torch.Tensor) -> tuple[torch.Tensor, np.ndarray | None]:
        """Roll out and score (K, T, A) candidates in micro-batches; returns scores (K,) float64
        and frames (K, T, H, W, 3) uint8 (None for a scorer that reads latents: the model's
        ``predict_latents`` then never decodes the last chunk)."""
        cand = self.clip(candidates).numpy().astype(np.float32)
        k = cand.shape[0]
        step = self.max_batch or k
        scores, frames = [], []
        for lo in range(0, k, step):
            part = cand[lo : lo + step]
            if self.reads == "latents":
                seen = self.model.predict_latents(frame, part, seed=self.rollout_seed)
            else:
                seen = self.model.predict_batch(frame, part, seed=self.rollout_seed).frames
                frames.append(seen)
            self._calls += 1
            self._rollouts += len(part)
            scores.append(to_scores(self.scorer(seen, part), len(part)))
        return torch.cat(scores), np.concatenate(frames) if frames else None

    # --- the public call ------------------------------------------------------------------
    def plan(self, frame, init=None) -> PlanResult:
        """Plan from ``frame`` (H, W, 3) uint8. ``init`` (T, A) overrides the warm start."""
        frame = np.asarray(frame)
        t0 = time.perf_counter()
        self._calls = self._rollouts = 0
        result = self._optimize(frame, self.base_plan(init))
        result.actions = self.clip(torch.as_tensor(result.actions)).numpy().astype(np.float32)
        result.model_calls, result.rollouts = self._calls, self._rollouts
        result.wall_s = time.perf_counter() - t0
        if not self.keep_frames:
            result.frames = None
        return result

    def _notify(self, iteration: int, info: dict) -> None:
        if self.callback is not None:
            self.callback(iteration, info)

    def _record(
        self, it: int, cands: torch.Tensor, scores: torch.Tensor, best: tuple, history: list, frames=None, **extra
    ) -> tuple:
        """Keep the best (actions, score, frames or None) seen so far, log iteration ``it`` in
        ``history`` and call the callback; returns the updated best."""
        i = int(torch.argmax(scores))
        if float(scores[i]) > best[1]:
            best = (cands[i].clone(), float(scores[i]), None if frames is None else frames[i].copy())
        finite = scores[torch.isfinite(scores)]
        info = {
            "iteration": it,
            "best": best[1],
            "mean": float(finite.mean()) if len(finite) else float("-inf"),
            **extra,
        }
        history.append(info)
        self._notify(it, info)
        return best

    def _optimize(self, frame: np.ndarray, base: torch.Tensor) -> PlanResult:
        """The search loop every planner shares: per iteration, the solver proposes candidates,
        they are rolled out and scored (:meth:`evaluate`), the solver updates its search state,
        and the best so far and the history are recorded; then the solver picks the plan."""
        state = self.start_search(base)
        best = (base.clone(), float("-inf"), None)
        history: list[dict] = []
        for it in range(self.iterations):
            cands = self.propose(state, it, best[0])
            scores, frames = self.evaluate(frame, cands)
            state, notes = self.update(state, cands, scores)
            best = self._record(it, cands, scores, best, history, frames, **notes)
        out = self.finish(state, best, frame)  # (actions, score) or (actions, score, frames of the plan)
        actions, score = out[0], out[1]
        plan_frames = out[2] if len(out) > 2 else None
        result = PlanResult(actions, score, cands.numpy(), scores.numpy().astype(np.float32), frames, history)
        result.plan_frames = plan_frames
        return result

    # --- what a solver supplies -------------------------------------------------------------
    def start_search(self, base: torch.Tensor):
        """The solver's search state before the first iteration (default: None)."""
        return None

    def propose(self, state, iteration: int, best: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        """Candidates (K, T, A) of this iteration, given the search state and the best plan so far."""
        raise NotImplementedError

    def update(self, state, candidates: torch.Tensor, scores: torch.Tensor) -> tuple:
        """The search state after scoring ``candidates``, and extra notes for the history."""
        return state, {}

    def finish(self, state, best: tuple, frame: np.ndarray) -> tuple:
        """The plan (T, A), its score and, when known, its predicted frames (T, H, W, 3)
        (default: the best candidate seen). A solver may return just (plan, score)."""
        return best[0].numpy(), best[1], best[2]

    # --- sampling helpers --------------------------------------------------------------------
    def noise(self, n: int, beta: float = 0.0) -> torch.Tensor:
        """(n, T, A) standard noise; ``beta > 0`` gives temporally correlated "coloured" noise
        with power spectrum 1/f^beta along time (iCEM), normalised to unit variance."""
        t, a = self.horizon, self.action_dim
        if beta <= 0:
            return torch.randn((n, t, a), generator=self.generator)
        amp = _colour_amplitudes(t, beta)
        re = torch.randn((n, a, len(amp)), generator=self.generator)
        im = torch.randn((n, a, len(amp)), generator=self.generator)
        x = torch.fft.irfft(torch.complex(re, im) * amp, n=t) / _colour_scale(t, beta)
        return x.transpose(1, 2).contiguous()

    def injected(self, base: torch.Tensor) -> torch.Tensor:
        """First-iteration extras: the base plan itself plus ``extra_candidates(base)``."""
        extra = [base[None]]
        if self.extra_candidates is not None:
            e = torch.as_tensor(np.asarray(self.extra_candidates(base.numpy())), dtype=torch.float32)
            if e.ndim != 3 or e.shape[1:] != base.shape:
                raise ValueError(
                    f"extra_candidates must return (M, {self.horizon}, {self.action_dim}), got {tuple(e.shape)}"
                )
            extra.append(e)
        return self.clip(torch.cat(extra))
