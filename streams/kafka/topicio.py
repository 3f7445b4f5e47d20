"""Reading topics to their end and watching consumer groups catch up (aiokafka).

Used by replay, verification, the demo and the broker-backed tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka import clients


@dataclass(frozen=True, slots=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: int | None = None  # the message's Kafka timestamp (ms)


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The true end (high watermark) of every partition of `topic`.

    Not ListOffsets alone: the embedded broker (Tansu 0.6) answers it with a value below
    the end when records were produced in batches. A fetch response carries the real high
    watermark, and fetching at the under-reported offset is always in range.
    """
    consumer = clients.consumer(bootstrap, fetch_max_wait_ms=50)
    await clients.start(consumer, bootstrap)
    try:
        parts = consumer.partitions_for_topic(topic)
        if parts is None:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return {}
        listed = await consumer.end_offsets(tps)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, listed[tp])
        ends: dict[int, int] = {}
        deadline = time.monotonic() + 30
        while len(ends) < len(tps):
            await consumer.getmany(*tps, timeout_ms=200, max_records=1)
            for tp in tps:
                hw = consumer.highwater(tp)
                if hw is not None:
                    ends[tp.partition] = max(hw, listed[tp])
            if time.monotonic() > deadline:
                raise TimeoutError(f"no high watermark for {topic} after 30 s")
        return ends
    finally:
        await clients.close(consumer)


async def read_topic(
    bootstrap: str, topic: str, partitions: list[int] | None = None, stall_s: float = 120.0
) -> dict[int, list[Record]]:
    """Every record of the topic (or of the given partitions), from the beginning up to
    the end offsets taken at the start, in partition order. TimeoutError after
    `stall_s` without a record while some are still missing."""
    ends = await end_offsets(bootstrap, topic)
    wanted = {p: end for p, end in ends.items() if partitions is None or p in partitions}
    out: dict[int, list[Record]] = {p: [] for p in wanted}
    todo = {p for p, end in wanted.items() if end > 0}
    if not todo:
        return out
    consumer = clients.consumer(bootstrap, max_partition_fetch_bytes=4 << 20)
    await clients.start(consumer, bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(todo)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        progress_at = time.monotonic()
        while todo:
            batch = await consumer.getmany(*tps, timeout_ms=1000, max_records=10_000)
            if any(batch.values()):
                progress_at = time.monotonic()
            elif time.monotonic() - progress_at > stall_s:
                raise TimeoutError(
                    f"{topic}: no record for {stall_s:.0f} s while partitions "
                    f"{sorted(todo)} are still short of their end"
                )
            for tp, msgs in batch.items():
                for m in msgs:
                    if m.offset < wanted[tp.partition]:
                        out[tp.partition].append(
                            Record(tp.partition, m.offset, m.key, m.value or b"", m.timestamp)
                        )
                if out[tp.partition] and out[tp.partition][-1].offset >= wanted[tp.partition] - 1:
                    todo.discard(tp.partition)
            for p in list(todo):
                if (await consumer.position(TopicPartition(topic, p))) >= wanted[p]:
                    todo.discard(p)
        return out
    finally:
        await clients.close(consumer)


async def committed_offsets(
    bootstrap: str, group: str, topic: str, partitions: list[int]
) -> dict[int, int]:
    """The group's committed offset per partition (0 where it has none)."""
    # A consumer in the group that never subscribes reads committed offsets without
    # joining (so it triggers no rebalance); the admin API's response does not decode
    # against every broker.
    consumer = clients.consumer(bootstrap, group_id=group)
    await clients.start(consumer, bootstrap)
    try:
        return {p: (await consumer.committed(TopicPartition(topic, p))) or 0 for p in partitions}
    finally:
        await clients.close(consumer)


async def group_positions(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """Per partition: messages not committed yet by the group."""
    ends = await end_offsets(bootstrap, topic)
    done = await committed_offsets(bootstrap, group, topic, sorted(ends))
    return {p: max(0, end - done[p]) for p, end in ends.items()}


async def wait_caught_up(
    bootstrap: str,
    group: str,
    topic: str,
    timeout_s: float = 60.0,
    settle_s: float = 0.0,
    targets: dict[int, int] | None = None,
) -> None:
    """Wait until the group has committed everything in `topic` — or, given `targets`,
    at least those offsets, while the topic may keep growing — then `settle_s` more."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if targets is None:
                lag = sum((await group_positions(bootstrap, group, topic)).values())
            else:
                done = await committed_offsets(bootstrap, group, topic, sorted(targets))
                lag = sum(max(0, end - done[p]) for p, end in targets.items())
        except Exception:  # group not there yet
            lag = -1
        if lag == 0:
            break
        if time.monotonic() > deadline:
            detail = await group_positions(bootstrap, group, topic)
            ends = targets or await end_offsets(bootstrap, topic)
            raise TimeoutError(
                f"group {group} still has {lag} messages of {topic} to process "
                f"(uncommitted per partition {detail}, waiting for offsets {ends})"
            )
        await asyncio.sleep(0.25)
    if settle_s:
        await asyncio.sleep(settle_s)


# Events without a subject: written to their `data.partition`, or to every partition.
BROADCAST_TYPES = ("agentfold.tick", "agentfold.goal_defined")


async def produce_lines(
    bootstrap: str, topic: str, lines: Iterable[bytes], partitions: int, linger_ms: int = 5
) -> int:
    """Publish a JSONL log as the offline fold reads it: keyed by subject; a tick or goal
    definition without a partition goes to every partition; unparseable lines go
    unkeyed to partition 0."""
    producer = clients.producer(bootstrap, linger_ms=linger_ms, max_request_size=4 << 20)
    await clients.start(producer, bootstrap)
    sent = 0
    try:
        for line in lines:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                obj = None
            first = obj[0] if isinstance(obj, list) and obj else obj
            subject = first.get("subject") if isinstance(first, dict) else None
            if isinstance(subject, str):
                await producer.send(topic, line, key=subject.encode())
            elif isinstance(first, dict) and first.get("type") in BROADCAST_TYPES:
                target = (first.get("data") or {}).get("partition")
                for p in range(partitions) if target is None else [target]:
                    await producer.send(topic, line, partition=p)
            else:
                await producer.send(topic, line, partition=0)
            sent += 1
        await producer.flush()
    finally:
        await clients.close(producer)
    return sent


async def iter_range(
    consumer: AIOKafkaConsumer,
    topic: str,
    partition: int,
    start: int | None,
    end: int,
    max_records: int = 10_000,
    stall_s: float = 120.0,
) -> AsyncIterator[list[Record]]:
    """Batches of records [start, end) of one partition (start None: the log start),
    with a consumer that has no group.

    A poll that returns nothing means either that the rest was removed (retention: the
    log now starts past the position) or only that the broker or this process is slow.
    Only the first ends the range early; the second is waited out, and after `stall_s`
    without a record it raises TimeoutError — a range is never cut short silently (the
    worker folds gaps with this, and replay must see the whole log)."""
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    if start is None:
        await consumer.seek_to_beginning(tp)
    else:
        consumer.seek(tp, start)
    progress_at = time.monotonic()
    while (position := await consumer.position(tp)) < end:
        batch = await consumer.getmany(tp, timeout_ms=1000, max_records=max_records)
        msgs = batch.get(tp, [])
        if not msgs:
            first = (await consumer.beginning_offsets([tp]))[tp]
            if first >= end:
                return  # what was left of the range is gone
            if first > position:
                consumer.seek(tp, first)  # the log start moved past us: skip what went
                continue
            if time.monotonic() - progress_at > stall_s:
                raise TimeoutError(
                    f"{topic} partition {partition}: no record at offset {position} for "
                    f"{stall_s:.0f} s though the log holds offsets {first}..{end - 1}"
                )
            continue
        progress_at = time.monotonic()
        records = [
            Record(partition, m.offset, m.key, m.value or b"", m.timestamp)
            for m in msgs
            if m.offset < end
        ]
        if records:
            yield records
        if msgs[-1].offset >= end - 1:
            return


async def fetch_range(
    consumer: AIOKafkaConsumer, topic: str, partition: int, start: int, end: int
) -> list[Record]:
    """Records [start, end) of one partition, with a consumer that has no group."""
    out: list[Record] = []
    async for records in iter_range(consumer, topic, partition, start, end, max_records=1000):
        out.extend(records)
    return out
