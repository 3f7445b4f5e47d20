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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from processors.config import FoldConfig
from processors.fold import PartitionFold
from schemas.codec import NO_KEY_CHECK, dead_letter, decode_message
from schemas.outputs import Origin, OutputRecord
from schemas.records import Event
from streams.folding.changelog import (
    encode_commit,
    encode_exec,
    encode_exec_record,
    encode_tombstone,
    exec_key,
    meta_dict,
    meta_key,
    new_epoch,
    restore,
)
from streams.folding.refusals import refusals

Writes = list[tuple[bytes, bytes | None]]  # changelog records in order; None = delete


@dataclass(slots=True)
class MessageResult:
    outputs: list[OutputRecord] = field(default_factory=list)
    events: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    skipped: bool = False  # already applied before (offset below next_offset)
    cut: bool = False  # an event past `until_ms` was reached; nothing after it was folded


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
        self._flushed = restored.flushed  # execution id -> value as of the last flush
        self.epoch = epoch or new_epoch()
        self._committed = restored.committed  # carried on by every commit, plus ours
        self._flush_no = -1
        self._flushed_offset = restored.state.meta.next_offset
        self.check_keys = check_keys
        self.state_writes = state_writes
        self.until_ms = until_ms
        self.on_event = on_event
        self.cut = False

    @property
    def expected(self) -> int:
        """The next input offset this partition has not folded yet."""
        return self.fold.state.meta.next_offset

    @property
    def dirty(self) -> int:
        """Executions the next flush writes."""
        return len(self.fold.state.touched)

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
        result = MessageResult()
        decoded = decode_message(value, key if self.check_keys else NO_KEY_CHECK)
        if decoded.rejected:
            key_text = key.decode("utf-8", errors="replace") if key is not None else None
            origin = Origin(topic=topic, partition=self.partition, offset=offset)
            for rejected in decoded.rejected:
                result.outputs.append(dead_letter(rejected, origin, key_text))
                result.rejected[rejected.reason] = result.rejected.get(rejected.reason, 0) + 1
        fold = self.fold
        fold.set_message_time(timestamp_ms)
        until, on_event = self.until_ms, self.on_event
        if until is None and on_event is None:
            fold.apply_all(decoded.events, result.outputs)
            result.events = len(decoded.events)
        else:
            for event in decoded.events:
                if until is not None and event.time > until:
                    self.cut = result.cut = True
                    break
                if on_event is not None:
                    on_event(event)
                result.events += 1
                fold.apply_into(event, result.outputs)
        if fold.refused:
            origin = Origin(topic=topic, partition=self.partition, offset=offset)
            key_text = key.decode("utf-8", errors="replace") if key is not None else None
            for reason in refusals(fold, decoded.events, origin, key_text, result.outputs):
                result.rejected[reason] = result.rejected.get(reason, 0) + 1
        meta.next_offset = offset + 1
        if not self.state_writes:
            fold.drain_touched()
        return result

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
            return []
        p, flush_no, flushed = self.partition, self._flush_no + 1, self._flushed
        execs, closed, rewrite = state.execs, meta.closed, self._rewrite
        writes: Writes = []
        forgotten: list[bytes] = []
        for exec_id in sorted(touched):
            ex = execs.get(exec_id)
            if ex is not None:
                value: bytes | None = encode_exec(p, ex)
            else:
                tomb = closed.get(exec_id)
                value = encode_tombstone(p, tomb) if tomb is not None else None
            undo = flushed.get(exec_id)
            if value is None and undo is None and exec_id not in rewrite:
                continue  # created and forgotten between two flushes: never written
            key = exec_key(exec_id)
            writes.append((key, encode_exec_record(p, self.epoch, flush_no, value, undo)))
            if value is None:
                flushed.pop(exec_id, None)
                forgotten.append(key)
            else:
                flushed[exec_id] = value
        self._committed[self.epoch] = flush_no  # what the commit record says
        writes.append((meta_key(p), encode_commit(meta_dict(meta), self._committed)))
        writes.extend((key, None) for key in forgotten)
        rewrite.clear()
        self._flush_no = flush_no
        self._flushed_offset = meta.next_offset
        return writes
