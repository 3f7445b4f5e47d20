"""The telemetry hot path: the partitions Faust assigned, read a fetch at a time.

(The goal stage reads its partitions of `goalfacts` the same way: streams/worker/goals.py.)

Faust stays the application — its worker, signals, group membership, partition
assignment and rebalance callbacks — but it does not hand telemetry to an agent message
by message: its own per-message machinery costs more than folding a message. The
reader is a group-less aiokafka consumer assigned exactly the telemetry partitions Faust
assigned (Faust's consumer fetches nothing from them: faust_compat.stop_fetching). For
each partition it owns it restores the fold, seeks to the fold's next offset and from
then on reads the log in order; each fetch is folded whole (`fold`, under `lock`).

Positions are the fold's, never the group's: a partition is read from the offset its
restored state stands at, so the offset guard has nothing to repair and no offset Faust
skips around a rebalance can be lost. The group's committed offsets report progress
(lag), written by the worker from the fold's positions.

A rebalance waits for the fetch being folded (`lock`); records fetched for a partition
that moved since are dropped, and a partition that comes back is restored and sought
again, as after any assignment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka import clients

log = logging.getLogger("agentfold.worker")
MiB = 1024 * 1024
POLL_MS = 200  # an idle fetch returns this often, to pick up a new assignment


class Positioned(Protocol):
    """What a reader needs of a partition's state: the next offset it folds."""

    @property
    def expected(self) -> int: ...


S = TypeVar("S", bound=Positioned)


class PartitionReader(Generic[S]):
    """Reads the assigned partitions of one topic in fetches and hands each to `fold`,
    after `restore` rebuilt the partition's state (`S`, kept in `lives`)."""

    def __init__(
        self,
        broker: str,
        topic: str,
        lives: MutableMapping[int, S],
        restore: Callable[[int], Awaitable[S]],
        fold: Callable[[S, Sequence[Any]], Awaitable[None]],
        restoring: set[int],
        *,
        max_records: int,
        on_crash: Callable[[BaseException], Awaitable[None]],
        what: str = "telemetry",
    ) -> None:
        self.broker = broker
        self.topic = topic
        self.lives = lives
        self._restore = restore
        self._fold = fold
        self.restoring = restoring  # partitions being restored (the readiness probe)
        self.max_records = max_records
        self._on_crash = on_crash
        self.what = what  # for the log
        self.lock = asyncio.Lock()  # held while a fetch is folded and while partitions move
        self._owned: set[int] = set()  # assigned by the group
        self._ready: set[int] = set()  # restored, sought, read
        self._generation = 0  # bumped by every assignment change
        self._changed = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # ─── called from Faust's rebalance callbacks (each under `lock`) ──────────────────

    def assign(self, partitions: set[int]) -> None:
        """The group gave this worker `partitions` (the whole new assignment)."""
        self._owned = set(partitions)
        self._ready -= partitions  # restored again: another worker may have folded them
        for p in partitions:
            self.lives.pop(p, None)
        self._moved()
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def release(self, partitions: set[int]) -> None:
        """`partitions` moved away; their state is drained by the caller."""
        self._owned -= partitions
        self._ready -= partitions
        for p in partitions:
            self.lives.pop(p, None)
        self._moved()

    def _moved(self) -> None:
        self._generation += 1
        self._changed.set()

    @property
    def owned(self) -> set[int]:
        return set(self._owned)

    def unread(self) -> set[int]:
        """Owned partitions not restored and read yet (the readiness probe waits)."""
        return self._owned - self._ready

    def highwater(self, partition: int) -> int | None:
        """The partition's end offset as of the last fetch (None: not read yet)."""
        consumer = self._consumer
        if consumer is None or partition not in self._ready:
            return None
        high = consumer.highwater(TopicPartition(self.topic, partition))
        return int(high) if high is not None else None

    # ─── the loop ─────────────────────────────────────────────────────────────────

    async def stop(self) -> None:
        """Stop at a fetch boundary: a fetch being folded is finished first."""
        self._stopping = True
        self._changed.set()
        task, self._task = self._task, None
        if task is not None:
            async with self.lock:  # the fold in progress, if any, ends first
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await clients.close(consumer)

    async def _run(self) -> None:
        try:
            # Fetches as large as the biggest message the worker accepts (oversize ones
            # must reach the dead letters, not stall the partition).
            consumer = clients.consumer(
                self.broker,
                max_partition_fetch_bytes=4 * MiB,
                fetch_max_bytes=16 * MiB,
                auto_offset_reset="earliest",
            )
            await clients.start(consumer, self.broker)
            self._consumer = consumer
            while not self._stopping:
                if self._changed.is_set():
                    await self._sync(consumer)
                    continue
                if not self._ready:
                    await self._changed.wait()
                    continue
                batch = await consumer.getmany(timeout_ms=POLL_MS, max_records=self.max_records)
                if batch:
                    await self._fold_batch(batch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broken broker connection, a failed send: as Faust does
            log.critical("%s reader failed: %r", self.what, exc)
            await self._on_crash(exc)

    async def _fold_batch(self, batch: dict[TopicPartition, list[Any]]) -> None:
        async with self.lock:
            ready, lives = self._ready, self.lives
            for tp in sorted(batch):
                live = lives.get(tp.partition)
                if live is None or tp.partition not in ready:
                    continue  # moved while it was fetched: whoever owns it reads it again
                await self._fold(live, batch[tp])

    async def _sync(self, consumer: AIOKafkaConsumer) -> None:
        """Restore the owned partitions not read yet and point the consumer at them."""
        self._changed.clear()
        generation = self._generation
        for p in sorted(self._owned - self._ready):
            if self.lives.get(p) is not None:
                continue
            self.restoring.add(p)
            try:
                live = await self._restore(p)
            finally:
                self.restoring.discard(p)
            if generation != self._generation:
                return  # the assignment moved meanwhile: `_changed` is set, start over
            self.lives[p] = live
        async with self.lock:
            if generation != self._generation:
                return
            owned = sorted(self._owned)
            tps = [TopicPartition(self.topic, p) for p in owned]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, self.lives[tp.partition].expected)
            self._ready = set(owned)
        if owned:
            log.info(
                "reading %s partitions %s from offsets %s",
                self.what,
                owned,
                [self.lives[p].expected for p in owned],
            )
