"""Driving the pure fold over Kafka messages: one driver, shared by worker and replay.

`LivePartition` folds one partition message by message — decode, dead-letter, fold,
state flushes for the changelog (`changelog`: fold state ⇄ table records, crash
consistent). `OfflineFold` routes a log file to N partitions as Kafka would and folds
each (`agentfold fold`).
"""

from streams.folding.offline import Emitted, FoldStats, OfflineFold, render
from streams.folding.partition import LivePartition, MessageResult, OffsetGap, Writes

__all__ = [
    "Emitted",
    "FoldStats",
    "LivePartition",
    "MessageResult",
    "OfflineFold",
    "OffsetGap",
    "Writes",
    "render",
]
