"""One Kafka message in, outputs and ordered state writes out — no Faust, no I/O.

The worker runs this per message; replay runs it over the log. Both therefore compute
exactly the same thing. Crash consistency rests on the order of `writes`: other
touched executions, then the partition meta, then the message's own execution last.
They share one changelog partition, so if the own execution's write survived a crash,
all earlier writes did too; if it did not, the message is reprocessed and the fold's
de-duplication makes that idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from processors.config import FoldConfig
from processors.fold import PartitionFold
from processors.state import PartitionMeta
from schemas.codec import NO_KEY_CHECK, dead_letter, decode_message
from schemas.outputs import Origin, OutputRecord
from streams.state_codec import encode_exec, encode_meta, exec_key, meta_key, restore_partition


@dataclass(slots=True)
class MessageResult:
    outputs: list[OutputRecord] = field(default_factory=list)
    writes: list[tuple[bytes, bytes | None]] = field(default_factory=list)  # None = delete
    events: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


class LivePartition:
    """The fold of one partition, fed raw messages, with its table writes worked out."""

    def __init__(
        self,
        cfg: FoldConfig,
        partition: int,
        table_items: Iterable[tuple[bytes, bytes]] = (),
        check_keys: bool = True,
    ) -> None:
        self.partition = partition
        self.fold = PartitionFold(cfg, partition, restore_partition(partition, table_items))
        self.check_keys = check_keys
        self._meta_written = _meta_snapshot(self.fold.state.meta)

    def process(self, key: bytes | None, value: bytes, topic: str, offset: int) -> MessageResult:
        result = MessageResult()
        decoded = decode_message(value, key if self.check_keys else NO_KEY_CHECK)
        key_text = key.decode("utf-8", errors="replace") if key is not None else None
        for rejected in decoded.rejected:
            origin = Origin(topic=topic, partition=self.partition, offset=offset)
            result.outputs.append(dead_letter(rejected, origin, key_text))
            result.rejected[rejected.reason] = result.rejected.get(rejected.reason, 0) + 1
        own: str | None = None
        fold = self.fold
        for event in decoded.events:
            result.events += 1
            result.outputs.extend(fold.apply(event))
            own = event.subject or own
        self._writes(result, own)
        return result

    def _writes(self, result: MessageResult, own: str | None) -> None:
        state = self.fold.state
        touched = self.fold.drain_touched()
        execs = state.execs
        writes = result.writes
        for exec_id in sorted(touched):
            if exec_id != own:
                writes.append(self._exec_write(exec_id, execs))
        snapshot = _meta_snapshot(state.meta)
        if snapshot != self._meta_written:
            writes.append((meta_key(self.partition), encode_meta(state.meta)))
            self._meta_written = snapshot
        if own is not None and own in touched:
            writes.append(self._exec_write(own, execs))

    def _exec_write(self, exec_id: str, execs: dict) -> tuple[bytes, bytes | None]:  # type: ignore[type-arg]
        ex = execs.get(exec_id)
        return exec_key(exec_id), None if ex is None else encode_exec(self.partition, ex)


def _meta_snapshot(meta: PartitionMeta) -> tuple[int, int, int]:
    # What must be durable: stream time and the closed set (counters may lag).
    return meta.stream_ms, len(meta.closed), hash(next(reversed(meta.closed), None))
