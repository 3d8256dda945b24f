"""planners: sampling-based MPC over batched world-model rollouts.

from planners import CEM, MPC
from planners.scorers import GoalDistance
planner = CEM(model, GoalDistance(goal), horizon=16, population=32, iterations=3, elites=6, seed=0)
result = planner.plan(frame)
"""

from .base import PlanResult, RolloutModel, Scorer, TrajectoryOptimizer
from .cem import CEM
from .lattice import Lattice, lattice_candidates
from .mpc import MPC, AsyncMPC, MPCTrace
from .random_shooting import RandomShooting

__all__ = [
    "CEM",
    "MPC",
    "AsyncMPC",
    "Lattice",
    "MPCTrace",
    "PlanResult",
    "RandomShooting",
    "RolloutModel",
    "Scorer",
    "TrajectoryOptimizer",
    "lattice_candidates",
]
