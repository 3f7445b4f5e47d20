"""State flushes: the changelog writes of every partition, crash-safe and pipelined.

State is written in flushes (every `flush_interval_s`, or sooner when a partition has
`flush_max_dirty` changed executions or `flush_max_outputs` outputs are waiting): each
changed execution once, however many messages touched it, then each partition's commit
record — in crash-safe order, see streams/folding/partition.py. A writer task writes a
flush once the outputs of every message in it are acknowledged, so folding never waits
for a broker round trip (at most one flush waits while another is written; all of it
is drained before partitions are revoked and at shutdown).

Records go straight to the producer, not through Faust's table (its per-record
buffering) and not into its store either: restore reads the changelog itself
(streams/worker/restore.py), and a copy of every record in memory — each closed
execution's with the state it replaced — would only grow the worker. They are not
awaited one by one: Faust flushes the producer before each offset commit, `drain`
before partitions move, and a failed delivery crashes the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from streams.clock import SYSTEM_CLOCK, Clock
from streams.config import WorkerSettings
from streams.folding.partition import LivePartition, Writes

log = logging.getLogger("agentfold.worker")

# A flush: the outputs it waits for, then each partition's changelog records.
Flush = tuple[list[Any], list[tuple[int, Writes]]]
# The producer's send: (topic, key, value, partition, timestamp, headers) → a future.
Send = Callable[[str, bytes | None, bytes | None, int, None, None], Awaitable[Any]]


class Flusher:
    def __init__(
        self,
        ws: WorkerSettings,
        lives: Mapping[int, LivePartition],
        send: Send,
        changelog: str,
        crash: Callable[[BaseException], Awaitable[None]],
        producer_flush: Callable[[], Awaitable[None]],
        counters: Counter[str],
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.ws = ws
        self.lives = lives
        self._send = send
        self._changelog = changelog
        self._crash = crash
        self._producer_flush = producer_flush
        self.counters = counters
        self.clock = clock
        self.pending: list[Any] = []  # delivery futures of the outputs since the last flush
        self.in_message = False  # between folding a message and queueing its outputs
        self._flush_at = clock.monotonic() + ws.flush_interval_s
        self._writes: asyncio.Queue[Flush] | None = None  # in flush order
        self._dequeued = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._state_failed = False
        self._crashing: asyncio.Future[None] | None = None
        self.on_written: Callable[[float], None] | None = None  # seconds per flush written

    def due(self, live: LivePartition) -> bool:
        """Whether the message just folded on `live` should be followed by a flush."""
        ws = self.ws
        return (
            live.dirty >= ws.flush_max_dirty
            or live.journal_full
            or len(self.pending) >= ws.flush_max_outputs
            or self.clock.monotonic() >= self._flush_at
        )

    def queue(self) -> asyncio.Queue[Flush]:
        """Snapshot every partition's changes since the last flush and queue them for
        the writer, with the outputs they wait for. Synchronous, so flushes queue in the
        order their snapshots were taken. Never call it between folding a message and
        queueing its outputs (`in_message`): the flush would not wait for them."""
        self._flush_at = self.clock.monotonic() + self.ws.flush_interval_s
        flushes = [(p, w) for p, live in sorted(self.lives.items()) if (w := live.flush())]
        pending, self.pending = self.pending, []
        if self._writes is None:
            self._writes = asyncio.Queue()
            self._writer = asyncio.ensure_future(self._write_loop(self._writes))
        if flushes or pending:
            self.counters["flushes"] += 1
            self._writes.put_nowait((pending, flushes))
        return self._writes

    async def flush(self) -> None:
        queue = self.queue()
        # One flush being written and one waiting: folding waits for the writer.
        while queue.qsize() > 1 and self._writer is not None and not self._writer.done():
            self._dequeued.clear()
            await self._dequeued.wait()

    async def on_timer(self) -> None:
        """Flush partitions that went quiet (a busy agent flushes as it goes)."""
        if self.lives and not self.in_message and self.clock.monotonic() >= self._flush_at:
            self.queue()

    async def _write_loop(self, queue: asyncio.Queue[Flush]) -> None:
        """Write each flush once the outputs it covers are delivered, in order."""
        while True:
            pending, flushes = await queue.get()
            self._dequeued.set()
            began = self.clock.monotonic()
            try:
                if pending:
                    # Delivered before the state that says they were emitted is written.
                    await asyncio.gather(*pending)
                for p, writes in flushes:
                    self.counters["state.records"] += len(writes)
                    await self._send_state(p, writes)
            except Exception as exc:
                # Skipping it and writing later flushes would advance a partition's
                # next offset past messages whose state is lost. Stop instead: on
                # restart the state trails the log and the offset guard refolds.
                log.critical("outputs or state not written: %r", exc)
                queue.task_done()
                await self._crash(exc)
                return
            queue.task_done()
            if self.on_written is not None:
                self.on_written(self.clock.monotonic() - began)

    async def _send_state(self, partition: int, writes: Writes) -> None:
        """Write state records straight to the changelog partition (module docstring)."""
        for k, v in writes:
            fut = await self._send(self._changelog, k, v, partition, None, None)
            fut.add_done_callback(self._state_sent)

    def _state_sent(self, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None and not self._state_failed:
            self._state_failed = True
            log.critical("state write to the changelog failed: %r", exc)
            self._crashing = asyncio.ensure_future(self._crash(exc))

    async def drain(self, queue_now: bool = True) -> None:
        """Flush, and wait until every flush is written (before partitions move)."""
        while self.in_message:  # a message's outputs are being queued: let it finish
            await asyncio.sleep(0.001)
        if queue_now:
            self.queue()
        if self._writes is None or self._writer is None or self._writer.done():
            return  # nothing queued yet, or the writer stopped (the app is crashing)
        joined = asyncio.ensure_future(self._writes.join())
        await asyncio.wait({joined, self._writer}, return_when=asyncio.FIRST_COMPLETED)
        joined.cancel()
        await self._producer_flush()  # the changelog records are on the broker
