"""`agentfold fold`: fold a telemetry log file exactly as live workers would.

Each line is one event or a JSON array of events of one execution. Events are routed
to N partitions by subject with Kafka's default partitioner and each partition is
folded in input order, so the result per partition equals what a worker computes for
that partition. Time comes only from the log: no timer fires past the last event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from processors.config import FoldConfig
from processors.fold import PartitionFold
from schemas.canonical import canonical_json
from schemas.codec import Rejected, dead_letter, decode_message, encode_event
from schemas.outputs import Origin, OutputRecord
from schemas.records import Event, Tick
from streams.folding.refusals import refusals
from streams.kafka.partitioner import partition_for
from streams.kafka.topics import topic_name

DEFAULT_TOPIC_PREFIX = "agentfold"


class Emitted(NamedTuple):
    partition: int
    record: OutputRecord


@dataclass(slots=True)
class FoldStats:
    lines: int = 0
    events: int = 0
    rejected: int = 0
    outputs: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)


class OfflineFold:
    """N partition folds plus the routing and dead-lettering a worker would do."""

    def __init__(self, cfg: FoldConfig, partitions: int, source_name: str = "-") -> None:
        if partitions < 1:
            raise ValueError("partitions must be >= 1")
        self.cfg = cfg
        self.partitions = partitions
        self.source_name = source_name
        self.folds = [PartitionFold(cfg, p) for p in range(partitions)]
        self.stats = FoldStats()

    def feed_lines(self, lines: Iterable[bytes]) -> Iterator[Emitted]:
        """Fold raw lines in order (blank lines skipped; numbering is 1-based)."""
        for line_no, raw in enumerate(lines, start=1):
            raw = raw.strip()
            if raw:
                yield from self.feed_line(line_no, raw)

    def feed_line(self, line_no: int, raw: bytes) -> Iterator[Emitted]:
        self.stats.lines += 1
        decoded = decode_message(raw)
        for rejected in decoded.rejected:
            yield self._reject(rejected, line_no)
        for position, event in enumerate(decoded.events):
            yield from self.feed_event(event, line_no, position)

    def feed_event(self, event: Event, line_no: int = 0, position: int = 0) -> Iterator[Emitted]:
        self.stats.events += 1
        if type(event) is Tick:
            target = event.data.partition
            if target is None:
                for p, fold in enumerate(self.folds):
                    yield from self._emit(p, fold.apply(event))
                return
            if target >= self.partitions:
                error = f"data.partition: tick names partition {target} of {self.partitions}"
                raw = encode_event(event)
                yield self._reject(Rejected("schema_violation", error, raw), line_no)
                return
            yield from self._emit(target, self.folds[target].apply(event))
            return
        p = partition_for(event.subject or "", self.partitions)
        fold = self.folds[p]
        records = fold.apply(event)
        if fold.refused:
            origin = Origin(file=self.source_name, line=line_no)
            self.stats.rejected += sum(
                1 for _ in refusals(fold, [event], origin, None, records, position)
            )
        yield from self._emit(p, records)

    def _emit(self, partition: int, records: list[OutputRecord]) -> Iterator[Emitted]:
        stats = self.stats
        for record in records:
            stats.outputs += 1
            stats.by_topic[record.topic] = stats.by_topic.get(record.topic, 0) + 1
            yield Emitted(partition, record)

    def _reject(self, rejected: Rejected, line_no: int) -> Emitted:
        self.stats.rejected += 1
        origin = Origin(file=self.source_name, line=line_no)
        record = dead_letter(rejected, origin, None)
        p = partition_for(record.key, self.partitions) if record.key else 0
        self.stats.outputs += 1
        self.stats.by_topic[record.topic] = self.stats.by_topic.get(record.topic, 0) + 1
        return Emitted(p, record)


def render(emitted: Emitted, prefix: str = DEFAULT_TOPIC_PREFIX) -> bytes:
    """One output line: topic, partition, key, value — canonical JSON."""
    record = emitted.record
    return canonical_json(
        {
            "topic": topic_name(prefix, record.topic),
            "partition": emitted.partition,
            "key": record.key,
            "value": record.value,
        }
    )
