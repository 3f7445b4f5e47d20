"""Kafka's default partitioner (murmur2 of the key bytes), as the Java client and aiokafka use.

Offline folds route events with it so that each offline partition holds exactly what
a live worker's partition holds.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2

from schemas.outputs import GOAL_FACTS, GOALS


@lru_cache(maxsize=65536)
def partition_for(key: str, partitions: int) -> int:
    return int(murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


def output_partition(topic: str, key: str | None, source: int, partitions: int) -> int:
    """Where an output record goes: its input's partition — except a goal fact, which
    goes to its goal's (`goalfacts` is the goal stage's repartition topic, keyed by
    goal id) and a goal's record, which goes where its facts went."""
    if topic in (GOAL_FACTS, GOALS) and key is not None:
        return partition_for(key, partitions)
    return source
