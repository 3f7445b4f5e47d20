"""`agentfold bridge otlp`: OTLP spans from Kafka → agentfold events in the telemetry topic.

A consumer group reads the topic the OpenTelemetry Collector's Kafka exporter writes
(`otlp_spans` by default, ExportTraceServiceRequest messages, protobuf or OTLP/JSON),
maps each message's spans (streams.otel.mapping), groups the events per execution and
produces SDK-style batches (a JSON array per message) to `<prefix>.telemetry`, keyed by
execution. A message that cannot be parsed goes to `<prefix>.deadletter` (reason
`invalid_otlp`, with its original bytes). Offsets are committed after everything a
fetch produced is acknowledged: at least once — a crash re-bridges a fetch, and the
derived event ids make the repeat a no-op for the fold.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from schemas.canonical import encode_model_event
from schemas.codec import Rejected, dead_letter, encode_output, validate_event
from schemas.errors import AgentfoldError, DecodeError
from schemas.events import Event
from schemas.outputs import DEADLETTER, TELEMETRY, Origin
from streams.kafka import clients
from streams.kafka.topics import ensure_topic, list_topics, topic_name
from streams.otel.mapping import Mapper
from streams.otel.settings import BridgeSettings, BridgeStats
from streams.otel.spans import OtlpError, parse_otlp

log = logging.getLogger("agentfold.bridge")

MAX_BATCH_EVENTS = 500  # per message, as the SDK batches
SOURCE_RETENTION_MS = 7 * 24 * 3600 * 1000
MAX_BATCH_BYTES = 256 * 1024


class BridgeError(AgentfoldError):
    """The bridge cannot run (e.g. the telemetry topic it writes to does not exist)."""


def valid_events(events: Iterable[dict[str, Any]], ignored: Counter[str]) -> Iterator[Event]:
    """The wire model of each mapped event; one the schema refuses (an execution id past
    its length cap) is counted, not sent."""
    for event in events:
        try:
            yield validate_event(event)
        except (DecodeError, ValidationError):
            ignored["event_invalid"] += 1


def encoded_events(
    events: Iterable[dict[str, Any]], ignored: Counter[str]
) -> Iterator[tuple[str, bytes]]:
    """(execution, bytes) of each valid mapped event: the bytes the SDK sends for it."""
    for model in valid_events(events, ignored):
        yield str(model.subject), encode_model_event(model)


def batches(events: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """SDK-style messages: per execution, JSON arrays of at most MAX_BATCH_EVENTS events
    and MAX_BATCH_BYTES bytes, in the order the events came."""
    grouped: dict[str, list[list[bytes]]] = {}
    sizes: dict[str, int] = {}
    for execution, raw in events:
        chunks = grouped.setdefault(execution, [[]])
        size = sizes.get(execution, 2)
        if chunks[-1] and (
            len(chunks[-1]) >= MAX_BATCH_EVENTS or size + len(raw) + 1 > MAX_BATCH_BYTES
        ):
            chunks.append([])
            size = 2
        chunks[-1].append(raw)
        sizes[execution] = size + len(raw) + 1
    return [
        (execution, b"[" + b",".join(chunk) + b"]")
        for execution, chunks in grouped.items()
        for chunk in chunks
    ]


class Bridge:
    def __init__(self, settings: BridgeSettings) -> None:
        self.s = settings
        self.stats = BridgeStats()
        self.mapper = Mapper(settings.remember)
        self.joined = False

    async def run(self, stop: asyncio.Event) -> BridgeStats:
        s = self.s
        # The Collector's exporter needs its topic to exist (a real Kafka seldom creates
        # topics on first use): created here if missing, partitioned as the telemetry
        # topic, kept as long as the plans (7 days).
        telemetry = topic_name(s.topic_prefix, TELEMETRY)
        partitions = (await list_topics(s.broker, s.topic_prefix)).get(telemetry)
        if partitions is None:
            raise BridgeError(
                f"topic {telemetry} does not exist on {s.broker}: create it with "
                f"`agentfold topics create --broker {s.broker}`"
            )
        if await ensure_topic(
            s.broker, s.source_topic, partitions, {"retention.ms": str(SOURCE_RETENTION_MS)}
        ):
            log.info("created %s (%d partitions)", s.source_topic, partitions)
        consumer = clients.consumer(
            s.broker,
            s.source_topic,
            group_id=s.group,
            auto_offset_reset="earliest",
            session_timeout_ms=int(s.session_timeout_s * 1000),
            heartbeat_interval_ms=int(s.heartbeat_interval_s * 1000),
            max_partition_fetch_bytes=8 << 20,
        )
        await clients.start(consumer, s.broker)
        producer = clients.producer(s.broker, linger_ms=5, max_request_size=4 << 20)
        try:
            await clients.start(producer, s.broker)
        except BaseException:
            await clients.close(consumer, clients.CLOSE_WAIT_S)
            raise
        self.joined = True
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                if batch:
                    await self._bridge(consumer, producer, batch)
        finally:
            await clients.close(consumer, clients.CLOSE_WAIT_S)
            await clients.close(producer)
        return self.stats

    async def _bridge(
        self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, batch: dict[Any, Any]
    ) -> None:
        s, stats = self.s, self.stats
        telemetry = topic_name(s.topic_prefix, TELEMETRY)
        sent = []
        encoded: list[tuple[str, bytes]] = []  # the whole fetch's, batched per execution
        for tp, msgs in batch.items():
            for m in msgs:
                stats.messages += 1
                raw = m.value or b""
                try:
                    spans = parse_otlp(raw, s.encoding)
                except OtlpError as exc:
                    stats.dead_letters += 1
                    origin = Origin(topic=tp.topic, partition=tp.partition, offset=m.offset)
                    letter = dead_letter(Rejected("invalid_otlp", str(exc), raw), origin, None)
                    sent.append(
                        await producer.send(
                            topic_name(s.topic_prefix, DEADLETTER), encode_output(letter)
                        )
                    )
                    continue
                stats.spans += len(spans)
                mapped = self.mapper.map(spans)
                stats.ignored.update(mapped.ignored)
                encoded.extend(encoded_events(mapped.events, stats.ignored))
        stats.events += len(encoded)
        # One message per execution per fetch, not per OTLP message: a message holds a
        # few spans of many executions, and each produce call costs far more than a span.
        for execution, value in batches(encoded):
            sent.append(await producer.send(telemetry, value, key=execution.encode()))
        await asyncio.gather(*sent)
        await consumer.commit(
            {tp: OffsetAndMetadata(msgs[-1].offset + 1, "") for tp, msgs in batch.items()}
        )
