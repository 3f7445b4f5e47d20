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
from schemas.records import Event, GoalDefined, Tick
from streams.folding.changelog import meta_dict
from streams.folding.net import Checkpoint, EventFailed, Marks, Poison, apply_marked
from streams.folding.partition import fold_error_letter
from streams.folding.refusals import refusals
from streams.kafka.partitioner import partition_for
from streams.kafka.topics import topic_name

DEFAULT_TOPIC_PREFIX = "agentfold"


EVENT_SIZE = 256  # journal bytes charged to an event fed without its line


# An event folded since the partition's last checkpoint, with its marks (None: none),
# or `_END`, the end of a message (its goal tallies were emitted). A plain tuple: one
# is made per event.
_Entry = tuple[Event | None, Marks | None]
_END: _Entry = (None, None)


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
        # The exception net (streams/folding/net.py), one checkpoint per partition.
        self._checkpoints: list[Checkpoint[_Entry]] = [
            Checkpoint(p, {}, meta_dict(fold.state.meta), cfg.journal_max_bytes)
            for p, fold in enumerate(self.folds)
        ]
        self.stats = FoldStats()
        self.recoveries = 0
        self._fed: dict[int, None] = {}  # the partitions the message being fed reached

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
        size = len(raw) // max(1, len(decoded.events)) + 1
        for position, event in enumerate(decoded.events):
            yield from self._feed(event, line_no, position, size)
        yield from self._end_message()

    def feed_event(
        self, event: Event, line_no: int = 0, position: int = 0, size: int = EVENT_SIZE
    ) -> Iterator[Emitted]:
        """Fold a message of one event (`size`: its share of its line's bytes, for the
        journal)."""
        yield from self._feed(event, line_no, position, size)
        yield from self._end_message()

    def _end_message(self) -> Iterator[Emitted]:
        """Close the message (its goal tallies), then checkpoint where the journal is
        full: a checkpoint is taken between messages, as live."""
        fed, self._fed = self._fed, {}
        for p in fed:
            fold, checkpoint = self.folds[p], self._checkpoints[p]
            records: list[OutputRecord] = []
            fold.end_message(records)
            yield from self._emit(p, records)
            checkpoint.journal.append(_END)
            if checkpoint.full:
                checkpoint.take(fold.state, fold.drain_touched())

    def _feed(self, event: Event, line_no: int, position: int, size: int) -> Iterator[Emitted]:
        self.stats.events += 1
        if type(event) is Tick or type(event) is GoalDefined:
            # subject-less: its partition, or every partition (as `produce` writes it)
            target = event.data.partition
            if target is None:
                for p in range(self.partitions):
                    yield from self._emit(p, self._apply(p, event, line_no, position, size))
                return
            if target >= self.partitions:
                error = f"data.partition: names partition {target} of {self.partitions}"
                raw = encode_event(event)
                yield self._reject(Rejected("schema_violation", error, raw), line_no)
                return
            yield from self._emit(target, self._apply(target, event, line_no, position, size))
            return
        p = partition_for(event.subject or "", self.partitions)
        yield from self._emit(p, self._apply(p, event, line_no, position, size))

    def _apply(
        self, p: int, event: Event, line_no: int, position: int, size: int
    ) -> list[OutputRecord]:
        fold, checkpoint = self.folds[p], self._checkpoints[p]
        self._fed[p] = None
        records: list[OutputRecord] = []
        marks: Marks | None = None
        try:
            fold.apply_into(event, records)
        except Exception:  # a bug in the fold; never a crash (streams/folding/net.py)
            records, marks = self._recover(p, event, line_no, position)
        if fold.refused:
            origin = Origin(file=self.source_name, line=line_no)
            self.stats.rejected += sum(
                1 for _ in refusals(fold, [event], origin, None, records, position)
            )
        checkpoint.journal.append((event, marks))
        checkpoint.journal_bytes += size
        return records

    def _recover(
        self, p: int, event: Event, line_no: int, position: int
    ) -> tuple[list[OutputRecord], Marks]:
        """Fold `event` again from the partition's checkpoint, marking what raises."""
        self.recoveries += 1
        origin = Origin(file=self.source_name, line=line_no)
        marks: dict[int, list[Poison]] = {}
        records: list[OutputRecord] = []

        def dead(poison: Poison, ev: Event) -> None:
            placed = Poison(position, poison.error, poison.timer)
            records.append(fold_error_letter(placed, ev, origin, None))

        while True:  # each round adds a mark, and a marked event is left out: it ends
            self._rollback(p)
            records.clear()
            try:
                apply_marked(self.folds[p], 0, event, records, marks, dead)
                self.stats.rejected += sum(len(m) for m in marks.values())
                return records, marks
            except EventFailed as failed:
                marks.setdefault(0, []).append(failed.poison)

    def _rollback(self, p: int) -> None:
        """Partition `p` as of its checkpoint, and the events since folded again (their
        outputs were emitted when they were first folded)."""
        fold, checkpoint = self.folds[p], self._checkpoints[p]
        fold.state = checkpoint.restore()
        scratch: list[OutputRecord] = []
        for event, marks in checkpoint.journal:
            if event is None:
                fold.end_message(scratch)
            elif marks:
                apply_marked(fold, 0, event, scratch, marks, lambda _p, _e: None)
            else:
                fold.apply_into(event, scratch)
            scratch.clear()
        fold.refused = []

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
