"""Evaluation: the video quality gate (:mod:`.gate`) and sim-to-real policy evaluation
(:mod:`.policy_eval`, with the statistics in :mod:`.stats`, and each world's protocol in
:mod:`.protocols`)."""

from .gate import GateInputError, GateReport, GateRow, pair_videos, run_gate
from .policy_eval import EpisodeResult, PolicyEvaluation, PolicyResult, evaluate_policies
from .protocols import evaluate_in_world, evaluate_push_policies
from .stats import mmrv, pairwise_rank_agreement, rank_correlations, wilson_interval

__all__ = [
    "EpisodeResult",
    "GateInputError",
    "GateReport",
    "GateRow",
    "PolicyEvaluation",
    "PolicyResult",
    "evaluate_in_world",
    "evaluate_policies",
    "evaluate_push_policies",
    "mmrv",
    "pair_videos",
    "pairwise_rank_agreement",
    "rank_correlations",
    "run_gate",
    "wilson_interval",
]
