"""engine.bulk: ``predict_many`` over sources and sinks, receipts, cost estimates, verify.

    from engine.bulk import predict_many, EpisodeDirSource, PerturbedSource, RolloutSink
    result = predict_many("push-64", PerturbedSource(EpisodeDirSource("episodes/"), k=4), RolloutSink.dir("out/"))

Parquet needs pyarrow (extra ``bulk``); the Ray backend needs ray (extra ``ray``).
"""

from .cost import CostEstimate, estimate_cost
from .lerobot_v3 import LeRobotDataset, LeRobotSink, LeRobotSource, episodes_to_lerobot
from .rows import IterableSource, SourceRow
from .run import BulkResult, FailedRow, predict_many
from .sinks import DirSink, RolloutRecord, RolloutSink
from .sources import EpisodeDirSource, PairDirSource, PerturbedSource
from .verify import VerifyReport, verify

__all__ = [
    "BulkResult",
    "CostEstimate",
    "DirSink",
    "EpisodeDirSource",
    "FailedRow",
    "IterableSource",
    "LeRobotDataset",
    "LeRobotSink",
    "LeRobotSource",
    "PairDirSource",
    "PerturbedSource",
    "RolloutRecord",
    "RolloutSink",
    "SourceRow",
    "VerifyReport",
    "episodes_to_lerobot",
    "estimate_cost",
    "predict_many",
    "verify",
]
