"""Restore a partition's fold from its changelog, and repair gaps in the input.

Restore reads the whole changelog partition as the broker holds it now — not Faust's
recovered table: Faust stops recovering at the end offset the broker reports, and the
embedded broker reports it short after batched writes; a restore that misses a flush's
tail records writes undo values from a stale view, and a later restart rolls back to
them. With exactly_once the table is restored as Faust recovered it: its recovery reads
only committed transactions (ours would need read_committed and the last stable
offset), and transactions need real Kafka, whose end offsets are right.

The offset guard: a message above a partition's next offset means its state trails the
log (a crash since the last flush) or Faust skipped offsets around a rebalance; the
missing range is fetched from the broker and folded first. Refolding is idempotent (the
fold de-duplicates).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable

from aiokafka import AIOKafkaConsumer

from processors.config import FoldConfig
from streams.folding.changelog import EXEC_PREFIX, META_PREFIX
from streams.folding.partition import LivePartition
from streams.kafka import clients
from streams.kafka.topicio import end_offsets, fetch_range, iter_range

log = logging.getLogger("agentfold.worker")
MiB = 1024 * 1024

# Folds one fetched input record: (live, key, value, topic, offset, timestamp ms).
Refold = Callable[[LivePartition, bytes | None, bytes, str, int, int | None], Awaitable[None]]


def is_state_key(key: bytes | None) -> bool:
    return key is not None and key.startswith((EXEC_PREFIX, META_PREFIX))


class Restorer:
    """Reads changelogs and skipped input with one group-less consumer, shared by every
    restore and gap repair of the worker."""

    def __init__(
        self,
        broker: str,
        cfg: FoldConfig,
        changelog: str,
        counters: Counter[str],
        store_get: Callable[[bytes], bytes | None] | None = None,
    ) -> None:
        self.broker = broker
        self.cfg = cfg
        self.changelog = changelog
        self.counters = counters
        self._store_get = store_get  # Faust's recovered store, for evidence only (None: none)
        self._reader: AIOKafkaConsumer | None = None
        # One range read at a time: the fold's restores, the goal stage's and gap
        # repairs share the consumer (and its assignment).
        self._lock = asyncio.Lock()
        self._restored: set[int] = set()  # partitions restored at least once

    async def reader(self) -> AIOKafkaConsumer:
        """A consumer without a group, for reading ranges: skipped input, changelogs."""
        if self._reader is None:
            # It reads ranges that exist: a fetch that long-polls at a range's end for
            # records that may never come only holds up the next restore (≈0.5 s each).
            self._reader = clients.consumer(
                self.broker, max_partition_fetch_bytes=4 * MiB, fetch_max_wait_ms=20
            )
            await clients.start(self._reader, self.broker)
        return self._reader

    async def stop(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            await clients.close(reader)  # else aiokafka warns of an unclosed consumer at exit

    def from_table(
        self, partition: int, items: Iterable[tuple[bytes, bytes | None]]
    ) -> LivePartition:
        """exactly_once: the partition as Faust's transactional recovery restored it."""
        live = LivePartition(self.cfg, partition, [(k, v) for k, v in items if is_state_key(k)])
        log.info(
            "partition %d: state restored (%d executions, next offset %d)",
            partition,
            len(live.fold.state.execs),
            live.expected,
        )
        return live

    async def restore(self, partition: int) -> LivePartition:
        """The partition's fold, restored from its whole changelog partition."""
        items, n_records = await self.read_changelog(partition, is_state_key)
        # Evidence for the module docstring's reason: on a partition's first restore in
        # this process, Faust's store holds exactly what its recovery read.
        first = partition not in self._restored
        self._restored.add(partition)
        get = self._store_get
        stale = sum(1 for k, v in items.items() if get(k) != v) if first and get else 0
        if stale:
            self.counters["restore.table_behind"] += 1
            log.warning(
                "partition %d: Faust's recovered table differs from the changelog in %d "
                "keys (the broker reported the changelog's end short); restoring from the "
                "changelog",
                partition,
                stale,
            )
        live = LivePartition(self.cfg, partition, items.items())
        log.info(
            "partition %d: state restored (%d executions, next offset %d, %d changelog "
            "records, epoch %s)",
            partition,
            len(live.fold.state.execs),
            live.expected,
            n_records,
            live.epoch,
        )
        return live

    async def read_changelog(
        self, partition: int, keep: Callable[[bytes | None], bool]
    ) -> tuple[dict[bytes, bytes], int]:
        """The latest value of every key `keep` accepts in one changelog partition, read
        in batches: a broker that does not compact (the embedded one) keeps every
        flush's records, so the log can be many times the table."""
        end = (await end_offsets(self.broker, self.changelog)).get(partition, 0)
        items: dict[bytes, bytes] = {}
        n_records = 0
        if end == 0:
            return items, n_records
        async with self._lock:
            reader = await self.reader()
            async for batch in iter_range(reader, self.changelog, partition, None, end):
                n_records += len(batch)
                for r in batch:
                    if r.key is None or not keep(r.key):
                        continue
                    if r.value:
                        items[r.key] = r.value
                    else:
                        items.pop(r.key, None)
        return items, n_records

    async def fill_gap(self, live: LivePartition, topic: str, upto: int, refold: Refold) -> None:
        """Input offsets [live.expected, upto) were never folded: fetch and fold them."""
        start = live.expected
        self.counters["gaps"] += 1
        log.warning(
            "partition %d: input offsets %d..%d were skipped; folding them now",
            live.partition,
            start,
            upto - 1,
        )
        async with self._lock:
            records = await fetch_range(await self.reader(), topic, live.partition, start, upto)
        for record in records:
            await refold(live, record.key, record.value, topic, record.offset, record.timestamp)
