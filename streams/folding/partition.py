"""One Kafka message in, outputs out; state writes in flushes — no Faust, no I/O.

The worker runs this per message; replay runs it over the log. Both therefore compute
exactly the same thing.

State is written in flushes, not per message (`flush`): each execution changed since the
last flush gets one record, then the partition's commit record with the position after
the last message folded. An execution touched by many messages between two flushes is
encoded and written once — the write cache that makes state cheap on the hot path.
Crash consistency rests on three things. (1) A flush restores whole or not at all: its
records carry the values they replace, and restore rolls back the records of a flush
whose commit record is missing (streams/state_codec.py). (2) The worker writes a flush
only after the outputs of every message in it are delivered. (3) The offset guard: a
message below `next_offset` is already applied and is skipped; one above it means the
state trails the log (a crash since the last flush) or input was skipped upstream
(Faust can skip offsets around rebalances), and the driver must fold the gap first
(`expected`). Refolding is idempotent: the fold de-duplicates.

A message whose fold raises is not a crash: the exception net (streams/folding/net.py)
restores the last flush, refolds the messages since and dead-letters the event that
raised (`fold_error`). Replay, which writes no state, takes the same checkpoints every
`journal_max_bytes` of input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from processors.config import FoldConfig
from processors.fold import PartitionFold
from schemas.codec import NO_KEY_CHECK, Rejected, dead_letter, decode_message, encode_event
from schemas.outputs import Origin, OutputRecord
from schemas.records import KIND_OF, Event
from streams.folding.changelog import (
    encode_commit,
    encode_exec_record,
    exec_key,
    meta_dict,
    meta_key,
    new_epoch,
    restore,
)
from streams.folding.net import Checkpoint, EventFailed, Marks, Poison, apply_marked, error_text
from streams.folding.refusals import refusals

Writes = list[tuple[bytes, bytes | None]]  # changelog records in order; None = delete
NO_MARKS: Marks = {}
# Marks of a message that raised outside any one event: it is left out whole.
DROPPED: Marks = {-1: ()}
# A message folded since the last checkpoint — key, value, topic, offset, timestamp —
# and the marks its fold needed (None: none). A plain tuple: one is made per message.
_Message = tuple[bytes | None, bytes, str, int, int | None, Marks | None]


@dataclass(slots=True)
class MessageResult:
    outputs: list[OutputRecord] = field(default_factory=list)
    events: int = 0
    kinds: dict[str, int] = field(default_factory=dict)  # events folded, by kind
    rejected: dict[str, int] = field(default_factory=dict)
    skipped: bool = False  # already applied before (offset below next_offset)
    cut: bool = False  # an event past `until_ms` was reached; nothing after it was folded


@dataclass(slots=True)
class FetchResult:
    """What folding one fetch of a partition's records (`LivePartition.process_fetch`)
    produced, summed over its messages."""

    outputs: list[OutputRecord] = field(default_factory=list)
    messages: int = 0  # messages folded (skipped ones not counted)
    events: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  # messages below next_offset: already applied
    consumed: int = 0  # records taken from the fetch; the rest wait for the next call
    fold_errors: list[int] = field(default_factory=list)  # offsets of messages that raised


class FetchRecord(Protocol):
    """A consumed Kafka record as aiokafka delivers it (timestamp in ms)."""

    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int | None: ...


class OffsetGap(Exception):
    """Input offsets [expected, got) were never folded; fold them before this message."""

    def __init__(self, partition: int, expected: int, got: int) -> None:
        super().__init__(f"partition {partition}: expected offset {expected}, got {got}")
        self.expected = expected
        self.got = got


class LivePartition:
    """The fold of one partition, fed raw messages, with its state flushes worked out."""

    def __init__(
        self,
        cfg: FoldConfig,
        partition: int,
        table_items: Iterable[tuple[bytes, bytes | None]] = (),
        check_keys: bool = True,
        *,
        state_writes: bool = True,
        until_ms: int | None = None,
        on_event: Callable[[Event], None] | None = None,
        epoch: str | None = None,
    ) -> None:
        """Replay sets `state_writes=False` (it keeps no table), may cut the log at event
        time `until_ms` (the first event stamped later stops the partition), and may
        watch every decoded event with `on_event`."""
        self.partition = partition
        restored = restore(partition, table_items)
        self.fold = PartitionFold(cfg, partition, restored.state)
        # Keys whose table record is not their committed value go into the next flush.
        self.fold.state.touched |= restored.rewrite
        self._rewrite = restored.rewrite
        # The last flush (or the restored state): each execution's value, as of it, and
        # the messages folded since — what the exception net restores and refolds.
        self._checkpoint: Checkpoint[_Message] = Checkpoint(
            partition, restored.flushed, meta_dict(restored.state.meta), cfg.journal_max_bytes
        )
        self.epoch = epoch or new_epoch()
        self._committed = restored.committed  # carried on by every commit, plus ours
        self._flush_no = -1
        self._flushed_offset = restored.state.meta.next_offset
        self.check_keys = check_keys
        self.state_writes = state_writes
        self.until_ms = until_ms
        self.on_event = on_event
        self.cut = False
        self._watched = 0  # events of the current message shown to on_event
        self.recoveries = 0  # messages the exception net folded again

    @property
    def expected(self) -> int:
        """The next input offset this partition has not folded yet."""
        return self.fold.state.meta.next_offset

    @property
    def dirty(self) -> int:
        """Executions the next flush writes."""
        return len(self.fold.state.touched)

    @property
    def next_deadline(self) -> int | None:
        """The event time the earliest pending timer is due at (None: nothing waits).
        A clock tick before it would fire nothing."""
        heap = self.fold.state.heap
        return heap[0][0] if heap else None

    @property
    def journal_full(self) -> bool:
        """The messages since the last flush reached `journal_max_bytes`: flush."""
        return self._checkpoint.full

    @property
    def flushed_offset(self) -> int:
        """The input offset the last flush (or the restored state) stands at."""
        return self._flushed_offset

    def process(
        self,
        key: bytes | None,
        value: bytes,
        topic: str,
        offset: int,
        allow_gap: bool = False,
        timestamp_ms: int | None = None,
    ) -> MessageResult:
        """Fold one message. `allow_gap`: the missing offsets are known not to exist
        (retention or compaction removed them), so accept the jump. `timestamp_ms`: the
        message's Kafka timestamp, which bounds its events' times (the clock guard)."""
        meta = self.fold.state.meta
        if offset < meta.next_offset or self.cut:
            return MessageResult(skipped=True)
        if offset > meta.next_offset and not allow_gap:
            raise OffsetGap(self.partition, meta.next_offset, offset)
        message: _Message = (key, value, topic, offset, timestamp_ms, None)
        self._watched = 0
        try:
            result = self._fold(message, None)
        except Exception as exc:  # a bug in the fold; never a crash (module docstring)
            message, result = self._recover(message, exc)
        self.fold.state.meta.next_offset = offset + 1
        checkpoint = self._checkpoint
        checkpoint.journal.append(message)
        checkpoint.journal_bytes += len(value)
        if not self.state_writes and checkpoint.full:
            checkpoint.take(self.fold.state, self.fold.drain_touched())
        return result

    def process_fetch(
        self,
        records: Sequence[FetchRecord],
        topic: str,
        start: int = 0,
        stop_when_full: bool = False,
    ) -> FetchResult:
        """Fold the records of one fetch of this partition, from `records[start]` on, in
        order — the per-fetch path the live worker and replay share. Offsets may jump:
        a consumer reading the log in order sees only records that exist (retention,
        compaction and transaction markers leave gaps nobody can read). Stops after the
        record that fills the exception net's journal when `stop_when_full` (the
        worker must flush before it goes on: `consumed` says how far it got), and at a
        cut (`until_ms`)."""
        result = FetchResult()
        outputs, kinds, rejected = result.outputs, result.kinds, result.rejected
        process = self.process
        i = start
        n = len(records)
        while i < n:
            r = records[i]
            i += 1
            m = process(r.key, r.value or b"", topic, r.offset, True, r.timestamp)
            if m.skipped:
                if self.cut:
                    break
                result.skipped += 1
                continue
            result.messages += 1
            result.events += m.events
            outputs += m.outputs
            for kind, count in m.kinds.items():
                kinds[kind] = kinds.get(kind, 0) + count
            if m.rejected:
                for reason, count in m.rejected.items():
                    rejected[reason] = rejected.get(reason, 0) + count
                if "fold_error" in m.rejected:
                    result.fold_errors.append(r.offset)
            if m.cut or (stop_when_full and self._checkpoint.full):
                break
        result.consumed = i - start
        return result

    def _fold(self, m: _Message, marks: Marks | None) -> MessageResult:
        """Decode and fold one message. `marks` None: the fast path, exceptions pass
        through; otherwise event by event, honouring the marks, raising EventFailed."""
        result = MessageResult()
        outputs = result.outputs
        key, value, topic, offset, timestamp_ms, _ = m
        decoded = decode_message(value, key if self.check_keys else NO_KEY_CHECK)
        origin: Origin | None = None
        key_text: str | None = None
        if decoded.rejected:
            key_text = key.decode("utf-8", errors="replace") if key is not None else None
            origin = Origin(topic=topic, partition=self.partition, offset=offset)
            for rejected in decoded.rejected:
                outputs.append(dead_letter(rejected, origin, key_text))
                result.rejected[rejected.reason] = result.rejected.get(rejected.reason, 0) + 1
        fold = self.fold
        fold.set_message_time(timestamp_ms)
        until, on_event = self.until_ms, self.on_event
        events = decoded.events
        if marks is None and until is None and on_event is None:
            fold.apply_all(events, outputs)
            result.events = len(events)
            kinds = result.kinds
            for event in events:
                kind = KIND_OF[type(event)]
                kinds[kind] = kinds.get(kind, 0) + 1
        else:

            def dead(poison: Poison, event: Event) -> None:
                nonlocal origin, key_text
                if origin is None:
                    key_text = key.decode("utf-8", errors="replace") if key is not None else None
                    origin = Origin(topic=topic, partition=self.partition, offset=offset)
                outputs.append(fold_error_letter(poison, event, origin, key_text))
                result.rejected["fold_error"] = result.rejected.get("fold_error", 0) + 1

            for position, event in enumerate(events):
                if until is not None and event.time > until:
                    self.cut = result.cut = True
                    break
                if on_event is not None and position >= self._watched:
                    on_event(event)
                    self._watched = position + 1
                result.events += 1
                kind = KIND_OF[type(event)]
                result.kinds[kind] = result.kinds.get(kind, 0) + 1
                if marks is None:
                    fold.apply_into(event, outputs)
                else:
                    apply_marked(fold, position, event, outputs, marks, dead)
            fold.end_message(outputs)  # also when cut short: the events folded count
        if fold.refused:
            if origin is None:
                key_text = key.decode("utf-8", errors="replace") if key is not None else None
                origin = Origin(topic=topic, partition=self.partition, offset=offset)
            for reason in refusals(fold, events, origin, key_text, outputs):
                result.rejected[reason] = result.rejected.get(reason, 0) + 1
        return result

    def _recover(self, m: _Message, exc: Exception) -> tuple[_Message, MessageResult]:
        """Fold `m` again from the last checkpoint, marking each event that raises."""
        self.recoveries += 1
        key, value, topic, offset, timestamp_ms, _ = m
        marks: dict[int, list[Poison]] = {}
        for _ in range(len(value) + 2):  # every round adds a mark: this always ends
            self._rollback()
            marked: _Message = (key, value, topic, offset, timestamp_ms, marks)
            try:
                return marked, self._fold(marked, marks)
            except EventFailed as failed:
                poison = failed.poison
                marks.setdefault(poison.position, []).append(poison)
            except Exception as outside:  # not while folding an event: drop the message
                exc = outside
                break
        self._rollback()
        result = MessageResult()
        origin = Origin(topic=topic, partition=self.partition, offset=offset)
        key_text = key.decode("utf-8", errors="replace") if key is not None else None
        error = f"folding this message raised {error_text(exc)}; it was left out"
        result.outputs.append(dead_letter(Rejected("fold_error", error, value), origin, key_text))
        result.rejected["fold_error"] = 1
        return (key, value, topic, offset, timestamp_ms, DROPPED), result

    def _rollback(self) -> None:
        """The state as of the last checkpoint, then every message since folded again
        (their outputs were emitted when they were first folded)."""
        fold = self.fold
        fold.state = self._checkpoint.restore()
        fold.state.touched |= self._rewrite
        fold.refused = []
        watched, self._watched = self._watched, 1 << 62  # on_event saw them already
        try:
            for m in self._checkpoint.journal:
                marks = m[5]
                if marks is not DROPPED:
                    self._fold(m, marks)
                fold.state.meta.next_offset = m[3] + 1
        finally:
            self._watched = watched

    def flush(self) -> Writes:
        """The changelog records that bring the table up to the state after the last
        message folded: one per execution changed since the last flush, then the commit
        record, then Kafka tombstones for forgotten executions. Nothing when nothing
        changed. The caller must write them in this order, after the outputs of every
        message folded since the last flush are delivered."""
        state = self.fold.state
        meta = state.meta
        touched = self.fold.drain_touched()
        if not touched and meta.next_offset == self._flushed_offset:
            self._checkpoint.take(state, ())
            return []
        p, flush_no, rewrite = self.partition, self._flush_no + 1, self._rewrite
        writes: Writes = []
        forgotten: list[bytes] = []
        for exec_id, value, undo in self._checkpoint.take(state, touched):
            if value is None and undo is None and exec_id not in rewrite:
                continue  # created and forgotten between two flushes: never written
            key = exec_key(exec_id)
            writes.append((key, encode_exec_record(p, self.epoch, flush_no, value, undo)))
            if value is None:
                forgotten.append(key)
        self._committed[self.epoch] = flush_no  # what the commit record says
        writes.append((meta_key(p), encode_commit(meta_dict(meta), self._committed)))
        writes.extend((key, None) for key in forgotten)
        rewrite.clear()
        self._flush_no = flush_no
        self._flushed_offset = meta.next_offset
        return writes


def fold_error_letter(
    poison: Poison, event: Event, origin: Origin, key: str | None
) -> OutputRecord:
    """The dead letter of one mark: the event (its canonical bytes) and what raised."""
    suffix = "" if poison.timer is None else f"/timer:{poison.timer[1]}@{poison.timer[0]}"
    rejected = Rejected(
        "fold_error",
        poison.message(),
        encode_event(event),
        subject=poison.subject(event),
        position=poison.position,
        suffix=suffix,
    )
    return dead_letter(rejected, origin, key)
