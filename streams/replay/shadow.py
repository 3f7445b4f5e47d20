"""Shadow topics: where `agentfold replay --to-prefix P` writes, never the live ones.

A shadow prefix is refused when it names a live namespace (it has a telemetry topic,
or is the replayed prefix itself) or when its output topics already hold records
(writing there again would interleave two replays).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from schemas.canonical import canonical_json
from schemas.errors import InputError
from schemas.outputs import GOAL_FACTS, LIVE_OUTPUT_TOPICS, TELEMETRY, OutputRecord
from streams.kafka import clients
from streams.kafka.partitioner import output_partition
from streams.kafka.topicio import end_offsets
from streams.kafka.topics import create_topics, list_topics, topic_name
from streams.views.goals import goal_records


async def check_shadow_prefix(bootstrap: str, live_prefix: str, shadow_prefix: str) -> None:
    if not shadow_prefix or shadow_prefix.strip(".") != shadow_prefix:
        raise InputError(
            f"--to-prefix {shadow_prefix!r}: give a name like 'shadow' (no dots at the ends)"
        )
    if shadow_prefix == live_prefix:
        raise InputError(
            f"--to-prefix {shadow_prefix!r} is the live prefix: replay never writes to live "
            "output topics; pick another name, e.g. --to-prefix replay-1"
        )
    existing = await list_topics(bootstrap, shadow_prefix)
    if topic_name(shadow_prefix, TELEMETRY) in existing:
        raise InputError(
            f"--to-prefix {shadow_prefix!r} is a live agentfold namespace "
            f"({shadow_prefix}.{TELEMETRY} exists); pick a prefix of its own"
        )
    for topic in LIVE_OUTPUT_TOPICS:
        name = topic_name(shadow_prefix, topic)
        if name in existing:
            held = sum((await end_offsets(bootstrap, name)).values())
            if held:
                raise InputError(
                    f"shadow topic {name} already holds {held} record(s); pick a new "
                    "--to-prefix or delete the old shadow topics"
                )


async def publish_shadow(
    bootstrap: str,
    live_prefix: str,
    shadow_prefix: str,
    partitions: int,
    records: Iterable[tuple[int, OutputRecord]],
) -> dict[str, int]:
    """Write replayed records to <shadow_prefix>.<topic>, same partition and key as the
    worker writes them, and the goal stage's records of the replayed goal facts."""
    await check_shadow_prefix(bootstrap, live_prefix, shadow_prefix)
    await create_topics(bootstrap, shadow_prefix, partitions, only=LIVE_OUTPUT_TOPICS)
    producer = clients.producer(bootstrap, linger_ms=10, max_request_size=4 << 20)
    await clients.start(producer, bootstrap)
    counts: dict[str, int] = {}
    facts: list[dict[str, Any]] = []

    async def send(p: int, record: OutputRecord) -> None:
        key = record.key.encode() if record.key is not None else None
        await producer.send(
            topic_name(shadow_prefix, record.topic),
            canonical_json(record.value),
            key=key,
            partition=output_partition(record.topic, record.key, p, partitions),
        )
        counts[record.topic] = counts.get(record.topic, 0) + 1

    try:
        for p, record in records:
            await send(p, record)
            if record.topic == GOAL_FACTS:
                facts.append(record.value)
        for goal in goal_records(facts):
            await send(0, goal)
        await producer.flush()
    finally:
        await clients.close(producer)
    return counts
