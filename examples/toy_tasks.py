"""The scorer that suits each toy-world task, shared by the MPC demo and the planning
benchmarks. It lives here, not in a package, because it joins the two: ``planners``'
:class:`GoalDistance` (reach) and the toy world's :class:`KeypointScorer` (push); ``dreamgym``
never imports ``planners``."""

from dreamgym.toyworld import KeypointScorer
from planners.scorers import GoalDistance


def task_scorer(task: str, goal_image):
    """The scorer used for ``task``: blurred pixel distance for reach, keypoints for push."""
    if task == "reach":
        return GoalDistance(goal_image, blur_sigma=6.0, weighting="linear")
    if task == "push":
        return KeypointScorer(goal_image, "push", approach=0.5, weighting="last")
    raise ValueError(f"task must be 'push' or 'reach', got {task!r}")
