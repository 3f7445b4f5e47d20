"""The live worker: a Faust app folding `agentfold.telemetry` per partition.

Per message: decode and fold (`LivePartition`) and send the outputs to their topics on
the source partition. State is written in flushes (every `flush_interval_s`, or sooner
when a partition has `flush_max_dirty` changed executions or `flush_max_outputs`
outputs are waiting): each changed execution once, however many messages touched it,
then each partition's commit record — in crash-safe order, see streams/live.py. A
writer task writes a flush once the outputs of every message in it are acknowledged,
so the agent never waits for a broker round trip (at most one flush waits while
another is written; all of it is drained before partitions are revoked and at
shutdown). Outputs and changelog records go straight to the producer (Faust's
per-record topic path costs several times the send); with exactly_once both take
Faust's transactional path, and state is flushed after every message.

The table's state may therefore trail the committed offsets after a crash; the
offset guard (`_fill_gap`) refolds the difference from the log on restart. Refolding
is idempotent (the fold de-duplicates), and an output re-sent after a crash carries
the same derived `id`: readers de-duplicate on it (see README, "Delivery guarantees").
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from faust.types import TP
from faust.types.tuples import Message

from processors.config import FoldConfig
from schemas.codec import canonical_json
from schemas.envelope import envelope
from schemas.outputs import OUTPUT_TOPICS, TELEMETRY
from streams.config import WorkerSettings
from streams.folding.changelog import EXEC_PREFIX, META_PREFIX
from streams.folding.partition import LivePartition, Writes
from streams.kafka import clients
from streams.kafka.topicio import end_offsets, fetch_range, iter_range
from streams.kafka.topics import topic_name

log = logging.getLogger("agentfold.worker")
MiB = 1024 * 1024
KAFKA_DEFAULT_MESSAGE_MAX = 1_048_588  # broker message.max.bytes / topic max.message.bytes


def changelog_record_max(cfg: FoldConfig) -> int:
    """The largest changelog record the fold's state budget allows: an execution's value
    and the value it replaces, each at most state_max_bytes after the execution's last
    event, plus a margin for what the fold's estimate misses (timers firing between its
    events, JSON escapes in text)."""
    return 2 * (cfg.state_max_bytes + 4 * cfg.payload_max_bytes) + 1024


def tick_event(worker_id: str, partition: int, now_ms: int) -> bytes:
    """A clock tick for one partition: written to the log so replay sees the same time."""
    event_id = f"tick:{worker_id}:{partition}:{now_ms}"
    data = {"partition": partition}
    return canonical_json(
        envelope("tick", id=event_id, source=worker_id, time_ms=now_ms, data=data)
    )


class StateTable(faust.Table):  # type: ignore[misc]
    """A table whose writes name their changelog partition (`write_partition`) instead
    of taking it from the stream event being processed — so that the writer task can
    apply a message's state after its outputs are delivered, outside the iteration."""

    write_partition: int | None = None

    def partition_for_key(self, key: Any) -> int | None:
        if self.write_partition is not None:
            return self.write_partition
        return super().partition_for_key(key)  # type: ignore[no-any-return]


# A flush: the outputs it waits for, then each partition's changelog records.
Flush = tuple[list[Any], list[tuple[int, Writes]]]


class FoldWorker:
    """The Faust app plus the per-partition folds and counters it drives."""

    def __init__(self, ws: WorkerSettings, cfg: FoldConfig) -> None:
        if ws.broker is None:
            raise ValueError("FoldWorker needs a broker address (start the embedded one first)")
        self.ws = ws
        self.cfg = cfg
        self.worker_id = f"{ws.app_id}@{socket.gethostname()}:{os.getpid()}"
        self.lives: dict[int, LivePartition] = {}
        self.last_seen: dict[int, float] = {}
        self.counters: Counter[str] = Counter()
        self._reader_consumer: AIOKafkaConsumer | None = None
        self._delivered: dict[int, int] = {}  # partition -> offset after the last delivered
        self._pending: list[Any] = []  # delivery futures of the outputs since the last flush
        self._flush_at = time.monotonic() + ws.flush_interval_s
        self._in_message = False  # between folding a message and queueing its outputs
        self._writes: asyncio.Queue[Flush] | None = None  # in flush order
        self._dequeued = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._state_failed = False
        self._crashing: asyncio.Future[None] | None = None
        self.record_max = changelog_record_max(cfg)
        self._restored: set[int] = set()  # partitions restored at least once
        self.app = self._build()
        self._output_names = {name: t.get_topic_name() for name, t in self.outputs.items()}
        self._changelog_name = self.table.changelog_topic.get_topic_name()

    def _build(self) -> faust.App:
        ws = self.ws
        # Tables live in memory and their changelogs; Faust still creates a data
        # directory, by default "<app id>-data" in the current directory.
        datadir = Path(tempfile.gettempdir()) / f"agentfold-{os.getuid()}"
        datadir.mkdir(exist_ok=True)
        app = faust.App(
            ws.app_id,
            broker=f"kafka://{ws.broker}",
            store="memory://",
            datadir=str(datadir / "{conf.name}-data"),
            topic_partitions=ws.partitions,
            broker_session_timeout=ws.session_timeout_s,
            broker_heartbeat_interval=ws.heartbeat_interval_s,
            broker_commit_interval=ws.commit_interval_s,
            processing_guarantee=ws.processing_guarantee,
            consumer_auto_offset_reset="earliest",
            consumer_max_fetch_size=4 * MiB,  # oversize messages must reach the dead letters
            producer_max_request_size=max(2 * MiB, self.record_max + 64 * 1024),
            producer_linger=ws.linger_s,
            web_enabled=False,
            Table=StateTable,
            table_cleanup_interval=3600.0,
            # Everything agentfold moves is raw bytes; decoding is schemas.codec's job.
            key_serializer="raw",
            value_serializer="raw",
        )
        raw: dict[str, Any] = {
            "key_type": bytes,
            "value_type": bytes,
            "key_serializer": "raw",
            "value_serializer": "raw",
        }
        prefix = ws.topic_prefix
        self.telemetry = app.topic(topic_name(prefix, TELEMETRY), partitions=ws.partitions, **raw)
        self.outputs = {
            name: app.topic(topic_name(prefix, name), partitions=ws.partitions, **raw)
            for name in OUTPUT_TOPICS
        }
        # bytes key/value types make the changelog raw too (a Schema would not).
        self.table = app.Table(
            "state",
            default=None,
            partitions=ws.partitions,
            key_type=bytes,
            value_type=bytes,
            # real Kafka refuses records over the topic's limit (1 MB by default)
            extra_topic_configs={"max.message.bytes": str(self.record_max)},
        )
        app.agent(self.telemetry, name="fold")(self._fold_agent)
        if ws.tick_interval_s > 0:
            app.timer(ws.tick_interval_s, name="ticks")(self._ticks)
        app.timer(ws.counters_interval_s, name="counters")(self._log_counters)
        if ws.processing_guarantee != "exactly_once":
            app.timer(ws.flush_interval_s / 2, name="flush")(self._flush_timer)
        app.on_partitions_revoked.connect(self._on_revoked)
        app.on_before_shutdown.connect(self._on_shutdown)  # consumer stopped, producer not
        app.on_partitions_assigned.connect(self._on_assigned)
        return app

    # ─── the agent ─────────────────────────────────────────────────────────────────

    async def _fold_agent(self, stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            p = msg.partition
            self.last_seen[p] = time.monotonic()
            live = self.lives.get(p)
            if live is None:
                restored = await self._restore(p)
                if TP(msg.topic, p) not in self.app.consumer.assignment():
                    continue  # revoked while restoring: the next owner folds it
                live = self.lives[p] = restored
            if msg.offset > live.expected:
                await self._fill_gap(live, msg.topic, msg.offset)
            self._ack_skipped(msg.topic, p, msg.offset)
            await self._handle(live, msg.key, msg.value, msg.topic, msg.offset)

    def _ack_skipped(self, topic: str, partition: int, offset: int) -> None:
        """Acknowledge offsets Faust jumped over before `offset` (all are folded by now:
        earlier, or just now by _fill_gap). Unacknowledged, they would stop its commits."""
        consumer = self.app.consumer
        tp = TP(topic, partition)
        start = self._delivered.get(partition)
        if start is None:  # first message since assignment: from the committed offset
            committed = getattr(consumer, "_committed_offset", {}).get(tp)
            start = offset if committed is None else committed
        for skipped in range(start, offset):
            consumer.ack(Message(topic, partition, skipped, 0.0, 0, None, None, None, None, tp=tp))
        self._delivered[partition] = offset + 1

    async def _fill_gap(self, live: LivePartition, topic: str, upto: int) -> None:
        """Faust skipped offsets (it can, around rebalances): fetch and fold them first."""
        start = live.expected
        self.counters["gaps"] += 1
        log.warning(
            "partition %d: input offsets %d..%d were skipped; folding them now",
            live.partition,
            start,
            upto - 1,
        )
        reader = await self._reader()
        for record in await fetch_range(reader, topic, live.partition, start, upto):
            await self._handle(live, record.key, record.value, topic, record.offset, allow_gap=True)

    async def _reader(self) -> AIOKafkaConsumer:
        """A consumer without a group, for reading ranges: skipped input, changelogs."""
        if self._reader_consumer is None:
            self._reader_consumer = clients.consumer(
                self.ws.broker or "", max_partition_fetch_bytes=4 * MiB
            )
            await self._reader_consumer.start()
        return self._reader_consumer

    async def _handle(
        self,
        live: LivePartition,
        key: bytes | None,
        value: bytes,
        topic: str,
        offset: int,
        allow_gap: bool = True,
    ) -> None:
        counters = self.counters
        self._in_message = True
        try:
            result = live.process(key, value, topic, offset, allow_gap=allow_gap)
            if result.skipped:
                counters["skipped_applied"] += 1
                return
            counters["messages"] += 1
            counters["events"] += result.events
            for reason, n in result.rejected.items():
                counters[f"deadletter.{reason}"] += n
            p = live.partition
            if self.ws.processing_guarantee == "exactly_once":
                # Outputs, state and offsets commit together in Faust's transaction, so
                # both go through Faust's transactional topic and table paths.
                sent = []
                for record in result.outputs:
                    counters[f"out.{record.topic}"] += 1
                    out_key = record.key.encode() if record.key is not None else None
                    sent.append(
                        await self.outputs[record.topic].send(
                            key=out_key, value=canonical_json(record.value), partition=p
                        )
                    )
                await asyncio.gather(*sent)
                self._write_state(p, live.flush())
                return
            # Straight to the producer: Faust's per-record topic machinery (channels,
            # FutureMessage, callbacks) costs several times the send itself.
            send = self.app.producer.send
            names = self._output_names
            pending = self._pending
            for record in result.outputs:
                counters[f"out.{record.topic}"] += 1
                out_key = record.key.encode() if record.key is not None else None
                value = canonical_json(record.value)
                pending.append(await send(names[record.topic], out_key, value, p, None, None))
        finally:
            self._in_message = False
        ws = self.ws
        if (
            live.dirty >= ws.flush_max_dirty
            or len(self._pending) >= ws.flush_max_outputs
            or time.monotonic() >= self._flush_at
        ):
            await self._flush()

    def _queue_flush(self) -> asyncio.Queue[Flush]:
        """Snapshot every partition's changes since the last flush and queue them for
        the writer, with the outputs they wait for. Synchronous, so flushes queue in the
        order their snapshots were taken. Never call it between folding a message and
        queueing its outputs (`_in_message`): the flush would not wait for them."""
        self._flush_at = time.monotonic() + self.ws.flush_interval_s
        flushes = [(p, w) for p, live in sorted(self.lives.items()) if (w := live.flush())]
        pending, self._pending = self._pending, []
        if self._writes is None:
            self._writes = asyncio.Queue()
            self._writer = asyncio.ensure_future(self._write_loop(self._writes))
        if flushes or pending:
            self.counters["flushes"] += 1
            self._writes.put_nowait((pending, flushes))
        return self._writes

    async def _flush(self) -> None:
        queue = self._queue_flush()
        # One flush being written and one waiting: folding waits for the writer.
        while queue.qsize() > 1 and self._writer is not None and not self._writer.done():
            self._dequeued.clear()
            await self._dequeued.wait()

    async def _flush_timer(self) -> None:
        """Flush partitions that went quiet (a busy agent flushes as it goes)."""
        if self.lives and not self._in_message and time.monotonic() >= self._flush_at:
            self._queue_flush()

    async def _write_loop(self, queue: asyncio.Queue[Flush]) -> None:
        """Write each flush once the outputs it covers are delivered, in order."""
        while True:
            pending, flushes = await queue.get()
            self._dequeued.set()
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
                # restart the state trails the log and the guard refolds.
                log.critical("outputs or state not written: %r", exc)
                queue.task_done()
                await self.app.crash(exc)
                return
            queue.task_done()

    async def _send_state(self, partition: int, writes: Writes) -> None:
        """Write state records straight to the changelog partition.

        Not through Faust's table (its per-record buffering), and not into its store
        either: restore reads the changelog itself (`_restore`), and a copy of every
        record in memory — each closed execution's with the state it replaced — would
        only grow the worker. The records are not awaited: Faust flushes the producer
        before each offset commit, `drain_writes` before partitions move, and a failed
        delivery crashes the worker (`_state_sent`)."""
        send = self.app.producer.send
        topic = self._changelog_name
        for k, v in writes:
            fut = await send(topic, k, v, partition, None, None)
            fut.add_done_callback(self._state_sent)

    def _state_sent(self, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None and not self._state_failed:
            self._state_failed = True
            log.critical("state write to the changelog failed: %r", exc)
            self._crashing = asyncio.ensure_future(self.app.crash(exc))

    def _write_state(self, partition: int, writes: Writes) -> None:
        table = self.table
        table.write_partition = partition
        try:
            for k, v in writes:
                if v is None:
                    if k in table:
                        del table[k]
                else:
                    table[k] = v
        finally:
            table.write_partition = None

    async def drain_writes(self) -> None:
        """Flush, and wait until every flush is written (before partitions move)."""
        while self._in_message:  # a message's outputs are being queued: let it finish
            await asyncio.sleep(0.001)
        if self.ws.processing_guarantee != "exactly_once":
            self._queue_flush()
        if self._writes is None or self._writer is None or self._writer.done():
            return  # nothing queued yet, or the writer stopped (the app is crashing)
        joined = asyncio.ensure_future(self._writes.join())
        await asyncio.wait({joined, self._writer}, return_when=asyncio.FIRST_COMPLETED)
        joined.cancel()
        await self.app.producer.flush()  # the changelog records are on the broker

    async def _restore(self, partition: int) -> LivePartition:
        """The partition's fold, restored from its whole changelog partition as the
        broker holds it now. Not from Faust's recovered table: Faust stops recovering
        at the end offset the broker reports, and the embedded broker reports it short
        after batched writes — a restore that misses a flush's tail records writes undo
        values from a stale view, and a later restart rolls back to them.

        With exactly_once the table is restored as Faust recovered it: its recovery
        reads only committed transactions (ours would need read_committed and the last
        stable offset), and transactions need real Kafka, whose end offsets are right."""
        if self.ws.processing_guarantee == "exactly_once":
            table = [
                (k, v) for k, v in self.table.items() if k.startswith((EXEC_PREFIX, META_PREFIX))
            ]
            live = LivePartition(self.cfg, partition, table)
            log.info(
                "partition %d: state restored (%d executions, next offset %d)",
                partition,
                len(live.fold.state.execs),
                live.expected,
            )
            return live
        items, n_records = await self._read_changelog(partition)
        # Evidence for the reason above: on a partition's first restore in this
        # process, Faust's store holds exactly what its recovery read.
        store = self.table.data
        first = partition not in self._restored
        self._restored.add(partition)
        stale = sum(1 for k, v in items.items() if store.get(k) != v) if first else 0
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

    async def _read_changelog(self, partition: int) -> tuple[dict[bytes, bytes], int]:
        """The latest value of every key in one changelog partition, read in batches: a
        broker that does not compact (the embedded one) keeps every flush's records, so
        the log can be many times the table."""
        broker = self.ws.broker or ""
        topic = self._changelog_name
        end = (await end_offsets(broker, topic)).get(partition, 0)
        items: dict[bytes, bytes] = {}
        n_records = 0
        if end == 0:
            return items, n_records
        async for batch in iter_range(await self._reader(), topic, partition, None, end):
            n_records += len(batch)
            for r in batch:
                if r.key is None or not r.key.startswith((EXEC_PREFIX, META_PREFIX)):
                    continue
                if r.value:
                    items[r.key] = r.value
                else:
                    items.pop(r.key, None)
        return items, n_records

    async def _on_shutdown(self, app: Any, **_: Any) -> None:
        await self.drain_writes()
        reader, self._reader_consumer = self._reader_consumer, None
        if reader is not None:
            await reader.stop()  # else aiokafka warns of an unclosed consumer at exit

    async def _on_revoked(self, app: Any, revoked: set[TP], **_: Any) -> None:
        # The state of revoked partitions must be in the changelog before the next owner
        # restores it (and no late write of ours may follow its writes).
        await self.drain_writes()
        for tp in revoked:
            if tp.topic == self.telemetry.get_topic_name():
                self.lives.pop(tp.partition, None)
                self._delivered.pop(tp.partition, None)

    async def _on_assigned(self, app: Any, assigned: set[TP], **_: Any) -> None:
        # Rebuilt from the recovered table on each partition's next message.
        for tp in assigned:
            if tp.topic == self.telemetry.get_topic_name():
                self.lives.pop(tp.partition, None)
                self._delivered.pop(tp.partition, None)
                self.last_seen.setdefault(tp.partition, time.monotonic())

    # ─── timers ────────────────────────────────────────────────────────────────────

    async def _ticks(self) -> None:
        """Append a tick to each owned partition that has been idle for an interval."""
        try:
            assignment = self.app.consumer.assignment()
        except Exception:  # consumer not started yet
            return
        name = self.telemetry.get_topic_name()
        now = time.monotonic()
        now_ms = int(time.time() * 1000)
        for tp in sorted(assignment):
            if tp.topic != name:
                continue
            if now - self.last_seen.get(tp.partition, 0.0) >= self.ws.tick_interval_s:
                self.last_seen[tp.partition] = now
                await self.telemetry.send(
                    value=tick_event(self.worker_id, tp.partition, now_ms),
                    partition=tp.partition,
                )
                self.counters["ticks.sent"] += 1

    async def _log_counters(self) -> None:
        if self.counters:
            text = ", ".join(f"{k}={v}" for k, v in sorted(self.counters.items()))
            positions = " ".join(f"{p}:{live.expected}" for p, live in sorted(self.lives.items()))
            log.info("counters: %s; next offsets %s", text, positions)
