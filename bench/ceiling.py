"""The raw consume ceiling every benchmark reports its ratio to: aiokafka reading a
whole topic, orjson-decoding every message, nothing else."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka.topicio import end_offsets


def _json_message(value: bytes) -> int:
    orjson.loads(value or b"null")
    return 1


async def raw_consume(
    bootstrap: str, topic: str, decode: Callable[[bytes], int] = _json_message
) -> tuple[int, float]:
    """Read the whole topic (to its true ends) decoding every value with `decode`, which
    says how many units (messages, spans) it held; (units, seconds)."""
    ends = await end_offsets(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=8 << 20
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p, end in ends.items() if end > 0]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen = 0
        started = time.perf_counter()
        todo = set(tps)
        while todo:
            batch = await consumer.getmany(*todo, timeout_ms=1000, max_records=10_000)
            for tp, msgs in batch.items():
                for m in msgs:
                    seen += decode(m.value or b"")
                if msgs and msgs[-1].offset >= ends[tp.partition] - 1:
                    todo.discard(tp)
        return seen, time.perf_counter() - started
    finally:
        await consumer.stop()
