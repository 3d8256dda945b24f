"""Ready-made planner configurations."""

from __future__ import annotations

from .cem import CEM
from .lattice import Lattice


def lattice_cem(model, scorer, *, horizon: int, population: int = 16, iterations: int = 2, seed: int = 0, **kw) -> CEM:
    """CEM with the lattice's strategies (base, +/-1 per action dimension, diagonals, scaled)
    injected into its first iteration, inside the same population: the planner whose success
    rates docs/planning.md reports (16 x 2 + 1 = 33 rollouts per re-plan by default).
    ``elites`` defaults to a fifth of the population (at least 2), ``momentum`` to 0.1; other
    keyword arguments go to :class:`CEM`."""
    kw.setdefault("elites", max(2, population // 5))
    kw.setdefault("momentum", 0.1)
    extra = Lattice(model, scorer, horizon=horizon, deltas=(1.0,)).candidates
    return CEM(
        model,
        scorer,
        horizon=horizon,
        population=population,
        iterations=iterations,
        seed=seed,
        extra_candidates=extra,
        **kw,
    )
