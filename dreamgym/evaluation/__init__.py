"""Evaluation: the video quality gate (:mod:`.gate`) and sim-to-real policy evaluation
(:mod:`.policies`, with the statistics in :mod:`.stats`)."""

from .gate import GateInputError, GateReport, GateRow, pair_videos, run_gate
from .policies import EpisodeResult, PolicyEvaluation, PolicyResult, evaluate_policies
from .stats import mmrv, pairwise_rank_agreement, rank_correlations, wilson_interval

__all__ = [
    "EpisodeResult",
    "GateInputError",
    "GateReport",
    "GateRow",
    "PolicyEvaluation",
    "PolicyResult",
    "evaluate_policies",
    "mmrv",
    "pair_videos",
    "pairwise_rank_agreement",
    "rank_correlations",
    "run_gate",
    "wilson_interval",
]
