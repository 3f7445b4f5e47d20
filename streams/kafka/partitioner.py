"""Kafka's default partitioner (murmur2 of the key bytes), as the Java client and aiokafka use.

Offline folds route events with it so that each offline partition holds exactly what
a live worker's partition holds.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=65536)
def partition_for(key: str, partitions: int) -> int:
    return int(murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions
