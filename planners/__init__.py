"""planners: sampling-based MPC over batched world-model rollouts.

from planners import MPC, lattice_cem
from planners.scorers import GoalDistance
planner = lattice_cem(model, GoalDistance(goal), horizon=16, seed=0)  # CEM 16 x 2 + lattice strategies
result = planner.plan(frame)
"""

from engine.protocol import RolloutModel
from engine.scoring import Scorer

from .base import PlanResult, TrajectoryOptimizer
from .cem import CEM
from .lattice import Lattice, lattice_candidates
from .mpc import MPC, AsyncMPC, MPCTrace
from .presets import lattice_cem
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
    "lattice_cem",
]
