"""The PushT world (needs the ``pusht`` extra: gym-pusht): gym-pusht as a second "real robot".

* :mod:`.sim` — :class:`PushTSim`: exact reset to a state, exact replay, 64x64 frames
  area-averaged from gym-pusht's canvas.
* :mod:`.env` — ``dreamgym/PushT-v0`` (:class:`PushTEnv`): relative actions in [-1, 1]^2
  (x 100 px), the ``pose`` task (the field's 20 px / 20 degree criterion) and gym-pusht's
  ``coverage`` task.
* :mod:`.reader` — :func:`read_state`, the frame-only reader of the pusher's position and the
  T's position and angle (what success judges and policies see).
* :mod:`.expert` — :class:`ExpertPolicy`, a scripted expert on frames (walk round the T to the
  contact whose push best gives the translation and rotation left, push, hold the contact).
* :mod:`.tasks` — seeded episodes of a behaviour (expert, weak, random), tasks in the field's
  protocol (goal 25 steps ahead in a held-out expert episode, 50-step budget) and the full task.
* :mod:`.episodes` — the dataset writer (``python -m dreamgym.pusht.episodes``).
* :mod:`.scorer` — :class:`PoseScorer`, a frame-only planning scorer (the field's pose error).
* :mod:`.zoo` — a graded zoo of frame-based chunk policies and the frame-only success judge.
* :mod:`.world` — :data:`PUSHT`, the PushT world behind the world protocol (:mod:`dreamgym.worlds`).
* :mod:`.model` — :class:`PushTModel`, the exact engine: it continues exactly from any frame
  the env (or itself) produced, by replaying the episode (:mod:`.history`).

``import dreamgym`` registers ``dreamgym/PushT-v0`` without importing gym-pusht; it is
imported when the env is made.
"""

from .env import ANGLE_TOL_DEG, COVERAGE_SUCCESS, POS_TOL_PX, TASKS, PushTEnv, pose_error, pose_success
from .expert import ExpertPolicy
from .model import PushTModel, PushTState
from .reader import read_state
from .scorer import PoseScorer
from .sim import ACTION_SCALE, GOAL_POSE, SIZE, TABLE, PushTSim, angle_difference, as_state, t_on_table
from .world import PUSHT, PushTWorld
from .zoo import FrameSuccess, policy_zoo

__all__ = [
    "ACTION_SCALE",
    "ANGLE_TOL_DEG",
    "COVERAGE_SUCCESS",
    "GOAL_POSE",
    "PUSHT",
    "POS_TOL_PX",
    "SIZE",
    "TABLE",
    "TASKS",
    "ExpertPolicy",
    "FrameSuccess",
    "PushTEnv",
    "PushTModel",
    "PushTState",
    "PoseScorer",
    "PushTSim",
    "PushTWorld",
    "angle_difference",
    "as_state",
    "pose_error",
    "policy_zoo",
    "pose_success",
    "read_state",
    "t_on_table",
]
