"""`agentfold fold`: fold a telemetry log file exactly as live workers would.

Each line is one event or a JSON array of events of one execution. Events are routed
to N partitions by subject with Kafka's default partitioner and each partition is
folded in input order, so the result per partition equals what a worker computes for
that partition. Time comes only from the log: no timer fires past the last event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
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

# A message folded since a partition's last checkpoint — its line, decoded again on a
# rollback (decoded events would keep the input's objects alive: several times its
# bytes, and the garbage collector walking them halved the fold's speed), or an event
# fed without a line — and the marks its fold needed in that partition (None: none).
_Source = bytes | Event
_Entry = tuple[_Source, Marks | None]


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
        self._all = tuple(range(partitions))
        # The message being fed: its source, its events, and the partitions it reached
        # so far with the marks its fold needed there.
        self._source: _Source = b""
        self._events: Sequence[Event] = ()
        self._fed: dict[int, dict[int, list[Poison]] | None] = {}

    def feed_lines(self, lines: Iterable[bytes]) -> Iterator[Emitted]:
        """Fold raw lines in order (blank lines skipped; numbering is 1-based)."""
        for line_no, raw in enumerate(lines, start=1):
            raw = raw.strip()
            if raw:
                out = self.feed_line(line_no, raw)
                if out:
                    yield from out

    def feed_line(self, line_no: int, raw: bytes) -> list[Emitted]:
        """Fold one line (a message): what it emits, in order."""
        stats = self.stats
        stats.lines += 1
        out: list[Emitted] = []
        decoded = decode_message(raw)
        for rejected in decoded.rejected:
            out.append(self._reject(rejected, line_no))
        events = decoded.events
        self._source, self._events = raw, events
        n = self.partitions
        for position, event in enumerate(events):
            if type(event) is Tick or type(event) is GoalDefined:
                self._feed(event, line_no, position, out)
                continue
            # _feed, inlined for the events of an execution: this loop is the hot path
            stats.events += 1
            p = partition_for(event.subject or "", n)
            records = self._apply(p, event, line_no, position)
            if records:
                self._emit(p, records, out)
        self._end_message(len(raw), out)
        return out

    def feed_event(self, event: Event, line_no: int = 0, size: int = EVENT_SIZE) -> list[Emitted]:
        """Fold a message of one event (`size`: the bytes the journal charges for it)."""
        out: list[Emitted] = []
        self._source, self._events = event, (event,)
        self._feed(event, line_no, 0, out)
        self._end_message(size, out)
        return out

    def _targets(self, event: Event) -> tuple[int, ...]:
        """The partitions `event` is folded in: its subject's, or for a subject-less
        event the one it names or every one (as `produce` writes it); none when it
        names a partition the log does not have."""
        if type(event) is Tick or type(event) is GoalDefined:
            target = event.data.partition
            if target is None:
                return self._all
            return (target,) if target < self.partitions else ()
        return (partition_for(event.subject or "", self.partitions),)

    def _end_message(self, size: int, out: list[Emitted]) -> None:
        """Close the message (its goal tallies) in each partition it reached and journal
        it there, then checkpoint where the journal is full: a checkpoint is taken
        between messages, as live."""
        fed, self._fed = self._fed, {}
        entry = (self._source, None)
        self._source, self._events = b"", ()
        records: list[OutputRecord] = []
        for p, marks in fed.items():
            fold, checkpoint = self.folds[p], self._checkpoints[p]
            fold.end_message(records)
            if records:
                self._emit(p, records, out)
                records = []
            checkpoint.journal.append(entry if marks is None else (entry[0], marks))
            checkpoint.journal_bytes += size
            if checkpoint.full:
                checkpoint.take(fold.state, fold.drain_touched())

    def _feed(self, event: Event, line_no: int, position: int, out: list[Emitted]) -> None:
        self.stats.events += 1
        targets = self._targets(event)
        if not targets:
            assert isinstance(event, (Tick, GoalDefined))  # only these name a partition
            error = f"data.partition: names partition {event.data.partition} of {self.partitions}"
            raw = encode_event(event)
            out.append(self._reject(Rejected("schema_violation", error, raw), line_no))
            return
        for p in targets:
            records = self._apply(p, event, line_no, position)
            if records:
                self._emit(p, records, out)

    def _apply(self, p: int, event: Event, line_no: int, position: int) -> list[OutputRecord]:
        fold = self.folds[p]
        if p not in self._fed:
            self._fed[p] = None
        records: list[OutputRecord] = []
        try:
            fold.apply_into(event, records)
        except Exception:  # a bug in the fold; never a crash (streams/folding/net.py)
            records = self._recover(p, event, line_no, position)
        if fold.refused:
            origin = Origin(file=self.source_name, line=line_no)
            self.stats.rejected += sum(
                1 for _ in refusals(fold, [event], origin, None, records, position)
            )
        return records

    def _recover(self, p: int, event: Event, line_no: int, position: int) -> list[OutputRecord]:
        """Fold `event` again from the partition's checkpoint, marking what raises."""
        self.recoveries += 1
        origin = Origin(file=self.source_name, line=line_no)
        marks = self._fed[p] or {}
        self._fed[p] = marks
        records: list[OutputRecord] = []

        def dead(poison: Poison, ev: Event) -> None:
            records.append(fold_error_letter(poison, ev, origin, None))

        while True:  # each round adds a mark, and a marked event is left out: it ends
            self._rollback(p, position)
            records.clear()
            try:
                apply_marked(self.folds[p], position, event, records, marks, dead)
                self.stats.rejected += len(marks.get(position, ()))
                return records
            except EventFailed as failed:
                marks.setdefault(position, []).append(failed.poison)

    def _rollback(self, p: int, position: int) -> None:
        """Partition `p` as of its checkpoint, then the messages since and the events of
        the message being fed before `position` folded again (their outputs were
        emitted when they were first folded)."""
        fold, checkpoint = self.folds[p], self._checkpoints[p]
        fold.state = checkpoint.restore()
        scratch: list[OutputRecord] = []
        for source, marks in checkpoint.journal:
            events = decode_message(source).events if isinstance(source, bytes) else (source,)
            self._refold(p, events, marks, scratch)
            fold.end_message(scratch)
            scratch.clear()
        self._refold(p, self._events[:position], self._fed.get(p), scratch)
        fold.refused = []

    def _refold(
        self, p: int, events: Sequence[Event], marks: Marks | None, scratch: list[OutputRecord]
    ) -> None:
        fold = self.folds[p]
        for position, event in enumerate(events):
            if p not in self._targets(event):
                continue
            if marks:
                apply_marked(fold, position, event, scratch, marks, lambda _p, _e: None)
            else:
                fold.apply_into(event, scratch)
            scratch.clear()

    def _emit(self, partition: int, records: list[OutputRecord], out: list[Emitted]) -> None:
        stats, by_topic = self.stats, self.stats.by_topic
        stats.outputs += len(records)
        for record in records:
            by_topic[record.topic] = by_topic.get(record.topic, 0) + 1
            out.append(Emitted(partition, record))

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
