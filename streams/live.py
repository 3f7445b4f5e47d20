"""One Kafka message in, outputs and ordered state writes out — no Faust, no I/O.

The worker runs this per message; replay runs it over the log. Both therefore compute
exactly the same thing.

Crash consistency rests on two things. (1) The order of `writes`, all on one changelog
partition: other touched executions, then the message's own execution, which carries
the partition meta *after* the message ("m", with `next_offset` = offset + 1) — or,
when the message's last write is not an execution value, the meta key does. Every
earlier write of the message carries the meta from *before* it, and so does a meta
key write put first when the message deletes a key (the deleted value may have held
the highest meta). Restore takes the highest `next_offset` found: it is offset + 1 only
if the message's last write survived, i.e. all of it did, and it never goes back.
One record per message instead of two in the common case. (2) The offset guard: a
message below `next_offset` is already applied and is skipped; one above it means input
was skipped upstream (Faust can skip offsets around rebalances), and the driver must
fold the gap first (`expected`). A message reprocessed after a partial write is
idempotent: the fold de-duplicates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from processors.config import FoldConfig
from processors.fold import PartitionFold
from processors.state import PartitionState
from schemas.codec import NO_KEY_CHECK, dead_letter, decode_message
from schemas.events import Event
from schemas.outputs import Origin, OutputRecord
from streams.state_codec import (
    MetaDict,
    encode_exec,
    encode_meta,
    encode_tombstone,
    exec_key,
    meta_dict,
    meta_key,
    restore_partition,
)


@dataclass(slots=True)
class MessageResult:
    outputs: list[OutputRecord] = field(default_factory=list)
    writes: list[tuple[bytes, bytes | None]] = field(default_factory=list)  # None = delete
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
    """The fold of one partition, fed raw messages, with its table writes worked out."""

    def __init__(
        self,
        cfg: FoldConfig,
        partition: int,
        table_items: Iterable[tuple[bytes, bytes]] = (),
        check_keys: bool = True,
        *,
        state_writes: bool = True,
        until_ms: int | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        """Replay sets `state_writes=False` (it keeps no table), may cut the log at event
        time `until_ms` (the first event stamped later stops the partition), and may
        watch every decoded event with `on_event`."""
        self.partition = partition
        self.fold = PartitionFold(cfg, partition, restore_partition(partition, table_items))
        self.check_keys = check_keys
        self.state_writes = state_writes
        self.until_ms = until_ms
        self.on_event = on_event
        self.cut = False

    @property
    def expected(self) -> int:
        """The next input offset this partition has not folded yet."""
        return self.fold.state.meta.next_offset

    def process(
        self, key: bytes | None, value: bytes, topic: str, offset: int, allow_gap: bool = False
    ) -> MessageResult:
        """Fold one message. `allow_gap`: the missing offsets are known not to exist
        (retention or compaction removed them), so accept the jump."""
        meta = self.fold.state.meta
        if offset < meta.next_offset or self.cut:
            return MessageResult(skipped=True)
        if offset > meta.next_offset and not allow_gap:
            raise OffsetGap(self.partition, meta.next_offset, offset)
        result = MessageResult()
        before = meta_dict(meta) if self.state_writes else None
        decoded = decode_message(value, key if self.check_keys else NO_KEY_CHECK)
        key_text = key.decode("utf-8", errors="replace") if key is not None else None
        for rejected in decoded.rejected:
            origin = Origin(topic=topic, partition=self.partition, offset=offset)
            result.outputs.append(dead_letter(rejected, origin, key_text))
            result.rejected[rejected.reason] = result.rejected.get(rejected.reason, 0) + 1
        own: str | None = None
        fold = self.fold
        until, on_event = self.until_ms, self.on_event
        for event in decoded.events:
            if until is not None and event.time > until:
                self.cut = result.cut = True
                break
            if on_event is not None:
                on_event(event)
            result.events += 1
            result.outputs.extend(fold.apply(event))
            own = event.subject or own
        meta.next_offset = offset + 1
        if before is not None:
            self._writes(result, own, before)
        else:
            fold.drain_touched()
        return result

    def _writes(self, result: MessageResult, own: str | None, before: MetaDict) -> None:
        state = self.fold.state
        touched = self.fold.drain_touched()
        writes = result.writes
        execs, closed = state.execs, state.meta.closed
        if any(t not in execs and t not in closed for t in touched):
            writes.append((meta_key(self.partition), encode_meta(before)))  # deletes follow
        for exec_id in sorted(touched):
            if exec_id != own:
                writes.append(self._exec_write(exec_id, state, before))
        after = meta_dict(state.meta)
        if own is not None and own in touched:
            key, value = self._exec_write(own, state, after)
            writes.append((key, value))
            if value is not None:
                return  # it carries "this message is fully written"
        writes.append((meta_key(self.partition), encode_meta(after)))

    def _exec_write(
        self, exec_id: str, state: PartitionState, meta: MetaDict
    ) -> tuple[bytes, bytes | None]:
        ex = state.execs.get(exec_id)
        if ex is not None:
            return exec_key(exec_id), encode_exec(self.partition, ex, meta)
        closed = state.meta.closed.get(exec_id)
        if closed is not None:
            return exec_key(exec_id), encode_tombstone(self.partition, closed, meta)
        return exec_key(exec_id), None  # forgotten tombstone
