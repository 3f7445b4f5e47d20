"""The live worker's Faust wiring: the app, its timers and rebalance callbacks, and
the fold of each fetch. Reading telemetry (streams/worker/reader.py), flushing
(streams/worker/flusher.py), restore and gap repair (streams/worker/restore.py) and Faust
workarounds (streams/worker/faust_compat.py) are their own modules.

At least once (the default), telemetry bypasses Faust's per-message stream: the reader
hands over each fetch of a partition, which is decoded and folded whole
(`LivePartition.process_fetch`, the path replay runs too), its outputs sent to their
topics on the source partition straight to the producer; the flusher writes state after
the outputs it covers are delivered. With exactly_once, outputs, state and offsets
commit together in Faust's transactions, so telemetry takes Faust's agent message by
message (`_fold_agent`) and state is written after every message.

The table's state may therefore trail the committed offsets after a crash; the offset
guard refolds the difference from the log on restart. Refolding is idempotent (the fold
de-duplicates), and an output re-sent after a crash carries the same derived `id`:
readers de-duplicate on it (docs/guarantees.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from processors.config import FoldConfig
from schemas.canonical import canonical_json
from schemas.envelope import envelope
from schemas.outputs import (
    ATTRIBUTION,
    GOAL_FACTS,
    GOALS,
    LIVE_OUTPUT_TOPICS,
    TELEMETRY,
    OutputRecord,
)
from streams.clock import SYSTEM_CLOCK, Clock
from streams.config import WorkerSettings
from streams.folding import goalfacts
from streams.folding.partition import FetchResult, LivePartition, MessageResult, Writes
from streams.kafka import clients
from streams.kafka.partitioner import partition_for
from streams.kafka.topics import topic_name
from streams.worker.faust_compat import (
    StateTable,
    ack_skipped,
    commit_offsets,
    committed_offset,
    skip_livelock_check,
    stop_fetching,
    store_get,
)
from streams.worker.flusher import Flusher
from streams.worker.goals import GoalStage
from streams.worker.reader import PartitionReader
from streams.worker.restore import Restorer

log = logging.getLogger("agentfold.worker")
MiB = 1024 * 1024
KAFKA_DEFAULT_MESSAGE_MAX = 1_048_588  # broker message.max.bytes / topic max.message.bytes


def changelog_record_max(cfg: FoldConfig) -> int:
    """The largest changelog record the fold's state budget allows: an execution's value
    and the value it replaces, each at most state_max_bytes after the execution's last
    event, plus a margin for what the fold's estimate misses (timers firing between its
    events, JSON escapes in text)."""
    return 2 * (cfg.state_max_bytes + 4 * cfg.payload_max_bytes) + 1024


def flush_histogram(registry: Any) -> Any:
    """`agentfold_flush_duration_seconds`, observed by the flusher's writer."""
    from prometheus_client import Histogram

    buckets = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
    return Histogram(
        "agentfold_flush_duration_seconds",
        "a state flush, from the writer taking it (waiting for its outputs' acknowledgements "
        "included) to its changelog records sent",
        buckets=buckets,
        registry=registry,
    )


def tick_event(worker_id: str, partition: int, now_ms: int) -> bytes:
    """A clock tick for one partition: written to the log so replay sees the same time."""
    event_id = f"tick:{worker_id}:{partition}:{now_ms}"
    data = {"partition": partition}
    return canonical_json(
        envelope("tick", id=event_id, source=worker_id, time_ms=now_ms, data=data)
    )


class FoldWorker:
    """The Faust app plus the per-partition folds and counters it drives."""

    def __init__(self, ws: WorkerSettings, cfg: FoldConfig, clock: Clock = SYSTEM_CLOCK) -> None:
        if ws.broker is None:
            raise ValueError("FoldWorker needs a broker address (start the embedded one first)")
        self.ws = ws
        self.cfg = cfg
        self.clock = clock
        self.worker_id = f"{ws.app_id}@{socket.gethostname()}:{os.getpid()}"
        self.lives: dict[int, LivePartition] = {}
        self.last_seen: dict[int, float] = {}
        self.counters: Counter[str] = Counter()
        self._delivered: dict[int, int] = {}  # partition -> offset after the last delivered
        self.assigned = False  # the group gave this worker its partitions at least once
        self.restoring: set[int] = set()
        self._web: Any = None  # the metrics and probes server, while it runs
        self.record_max = changelog_record_max(cfg)
        self.app = self._build()
        self._output_names = {name: t.get_topic_name() for name, t in self.outputs.items()}
        changelog = self.table.changelog_topic.get_topic_name()
        self.flusher = Flusher(
            ws,
            self.lives,
            lambda *record: self.app.producer.send(*record),  # the producer starts with the app
            changelog,
            self.app.crash,
            lambda: self.app.producer.flush(),
            self.counters,
            clock,
        )
        self.restorer = Restorer(
            ws.broker, cfg, changelog, self.counters, lambda key: store_get(self.table, key)
        )
        self._committed: dict[int, int] = {}  # partition -> offset the group last committed
        self.reader = PartitionReader(
            ws.broker,
            self.telemetry.get_topic_name(),
            self.lives,
            self.restorer.restore,
            self._fold_fetch,
            self.restoring,
            max_records=ws.fetch_max_records,
            on_crash=self.app.crash,
        )
        # The goal stage of the goalfacts partitions numbered like the telemetry ones
        # this worker owns. Exactly once it does not run: its writes would have to join
        # Faust's transactions (docs/goals.md says how to get goal progress then).
        self.goals: GoalStage | None = None
        if not self.exactly_once:
            self.goals = GoalStage(
                ws.broker,
                self._output_names[GOAL_FACTS],
                self._output_names[GOALS],
                changelog,
                lambda *record: self.app.producer.send(*record),
                self.restorer,
                self.counters,
                max_records=ws.fetch_max_records,
                flush_interval_s=ws.flush_interval_s,
                on_crash=self.app.crash,
                clock=clock,
            )
        # Built before the app starts, so the histogram sees the first flush even when
        # the fold gets there before the metrics server is up.
        self._registry: Any = self._metrics_registry() if ws.web_port else None

    def _build(self) -> faust.App:
        ws = self.ws
        # Tables live in memory and their changelogs; Faust still creates a data
        # directory, by default "<app id>-data" in the current directory.
        datadir = Path(tempfile.gettempdir()) / f"agentfold-{os.getuid()}"
        datadir.mkdir(exist_ok=True)
        # At least once, the worker restores a partition from its own read of the
        # changelog (streams/worker/restore.py), never from Faust's store: a standby
        # copy of other workers' partitions would be memory spent for nothing, and
        # Faust's check of the offsets its recovery read against the end offset the
        # broker reports stops the worker when that report runs short (the embedded
        # broker's does after batched writes). Exactly once, Faust's recovery is the
        # restore: both stay as Faust has them.
        own_restore: dict[str, Any] = (
            {}
            if ws.processing_guarantee == "exactly_once"
            else {"table_standby_replicas": 0, "recovery_consistency_check": False}
        )
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
            web_enabled=False,  # streams/ops serves metrics and probes instead
            broker_credentials=clients.security().faust_credentials(),
            Table=StateTable,
            table_cleanup_interval=3600.0,
            **own_restore,
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
            for name in LIVE_OUTPUT_TOPICS
        }
        # bytes key/value types make the changelog raw too (a Schema would not).
        # `Table=StateTable` above makes every table of this app a StateTable.
        self.table: StateTable = app.Table(  # type: ignore[assignment]
            "state",
            default=None,
            partitions=ws.partitions,
            key_type=bytes,
            value_type=bytes,
            # real Kafka refuses records over the topic's limit (1 MB by default)
            extra_topic_configs={"max.message.bytes": str(self.record_max)},
        )
        # The agent subscribes the group to telemetry (Faust assigns its partitions);
        # at least once, the reader folds them and the agent receives nothing.
        agent = self._fold_agent if self.exactly_once else self._unread_agent
        app.agent(self.telemetry, name="fold")(agent)
        if ws.tick_interval_s > 0:
            app.timer(ws.tick_interval_s, name="ticks")(self._ticks)
        app.timer(ws.counters_interval_s, name="counters")(self._log_counters)
        if ws.web_port:
            app.task(self._serve_web)
        if not self.exactly_once:
            app.timer(ws.flush_interval_s / 2, name="flush")(self._flush_timer)
            app.timer(ws.commit_interval_s, name="commit")(self._commit_timer)
            app.timer(ws.flush_interval_s / 2, name="goal-flush")(self._goal_flush_timer)
        # Faust calls these with (app, partitions); its stubs declare only (sender, ...).
        app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        # on_before_shutdown: the consumer is stopped, the producer not yet.
        app.on_before_shutdown.connect(self._on_shutdown)  # type: ignore[arg-type]
        app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]
        return app

    @property
    def exactly_once(self) -> bool:
        return self.ws.processing_guarantee == "exactly_once"

    # ─── the hot path: a fetch at a time ─────────────────────────────────────────────

    async def _fold_fetch(self, live: LivePartition, records: Sequence[Any]) -> None:
        """Fold one fetch of a partition (the reader holds its lock) and send its
        outputs; flush when due — also in the middle of a fetch, once the exception
        net's journal is full."""
        p = live.partition
        self.last_seen[p] = self.clock.monotonic()
        topic = self.reader.topic
        flusher = self.flusher
        start, n = 0, len(records)
        while start < n:
            flusher.in_message = True
            try:
                result = live.process_fetch(records, topic, start, stop_when_full=True)
                start += result.consumed
                self.counters["skipped_applied"] += result.skipped
                self._count(result, result.messages, p, result.fold_errors)
                await self._send_outputs(result.outputs, p)
            finally:
                flusher.in_message = False
            if flusher.due(live):
                await flusher.flush()

    async def _unread_agent(self, stream: Any) -> None:
        """At least once, Faust's consumer fetches no telemetry (the reader does): a
        message it fetched before its pause took effect is read again by the reader
        and only acknowledged here."""
        async for _ in stream.events():
            self.counters["faust.unread"] += 1

    def _count(
        self, result: MessageResult | FetchResult, messages: int, p: int, fold_errors: list[int]
    ) -> None:
        counters = self.counters
        counters["messages"] += messages
        counters["events"] += result.events
        for kind, n in result.kinds.items():
            counters[f"kind.{kind}"] += n
        for reason, n in result.rejected.items():
            counters[f"deadletter.{reason}"] += n
        for offset in fold_errors:
            log.error(
                "partition %d offset %d: folding raised; dead-lettered as fold_error and "
                "left out (a bug in agentfold: please report it with the dead letter)",
                p,
                offset,
            )
        for record in result.outputs:
            counters[f"out.{record.topic}"] += 1
            if record.topic == ATTRIBUTION:
                counters[f"actions.{record.value.get('closed_by')}"] += 1

    async def _send_outputs(self, outputs: list[OutputRecord], p: int) -> None:
        """Straight to the producer: Faust's per-record topic machinery (channels,
        FutureMessage, callbacks) costs several times the send itself. The flusher
        waits for their delivery before it writes the state that covers them. Goal
        facts go one message per goal (streams/folding/goalfacts.py)."""
        send = self.app.producer.send
        names = self._output_names
        pending = self.flusher.pending
        others, facts = goalfacts.pack(outputs)
        for record in others:
            out_key = record.key.encode() if record.key is not None else None
            value = canonical_json(record.value)
            pending.append(await send(names[record.topic], out_key, value, p, None, None))
        for goal, value in facts:
            partition = partition_for(goal, self.ws.partitions)
            pending.append(
                await send(names[GOAL_FACTS], goal.encode(), value, partition, None, None)
            )

    async def _goal_flush_timer(self) -> None:
        if self.goals is not None:
            await self.goals.on_timer()

    async def _commit_timer(self) -> None:
        await self._commit_positions(self.reader.owned)

    async def _commit_positions(self, partitions: set[int]) -> None:
        """Commit, for the group, where each partition's fold stands (outputs sent up to
        there). It reports progress (lag) only: the reader starts from the restored
        state's own position, whatever the group committed."""
        name = self.reader.topic
        offsets = {}
        for p in partitions:
            live = self.lives.get(p)
            if live is not None and self._committed.get(p) != live.expected:
                offsets[TP(name, p)] = live.expected
        if not offsets:
            return
        try:
            done = await commit_offsets(self.app.consumer, offsets)
        except Exception as exc:  # the consumer is not up, or stopping: the next one will
            log.debug("offsets not committed: %r", exc)
            return
        if done:
            for tp, offset in offsets.items():
                self._committed[tp.partition] = offset

    # ─── exactly once: Faust's stream, message by message ───────────────────────────

    async def _fold_agent(self, stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            p = msg.partition
            self.last_seen[p] = self.clock.monotonic()
            live = self.lives.get(p)
            if live is None:
                self.restoring.add(p)
                try:
                    if self.exactly_once:
                        restored = self.restorer.from_table(p, self.table.items())
                    else:
                        restored = await self.restorer.restore(p)
                finally:
                    self.restoring.discard(p)
                if TP(msg.topic, p) not in self.app.consumer.assignment():
                    continue  # revoked while restoring: the next owner folds it
                live = self.lives[p] = restored
            if msg.offset > live.expected:
                await self.restorer.fill_gap(live, msg.topic, msg.offset, self._handle)
            self._ack_skipped(msg.topic, p, msg.offset)
            timestamp_ms = round(msg.timestamp * 1000) if msg.timestamp is not None else None
            await self._handle(live, msg.key, msg.value, msg.topic, msg.offset, timestamp_ms)

    def _ack_skipped(self, topic: str, partition: int, offset: int) -> None:
        """Acknowledge offsets Faust jumped over before `offset` (all are folded by now:
        earlier, or just now by the gap repair). Unacknowledged, they would stop its
        commits."""
        consumer = self.app.consumer
        start = self._delivered.get(partition)
        if start is None:  # first message since assignment: from the committed offset
            committed = committed_offset(consumer, TP(topic, partition))
            start = offset if committed is None else committed
        ack_skipped(consumer, topic, partition, start, offset)
        self._delivered[partition] = offset + 1

    async def _handle(
        self,
        live: LivePartition,
        key: bytes | None,
        value: bytes,
        topic: str,
        offset: int,
        timestamp_ms: int | None,
    ) -> None:
        """Fold one message; its outputs, state and offset commit together in Faust's
        transaction, so they take Faust's transactional topic and table paths. Gaps in
        offsets are accepted here: the agent repairs them first, and the gap repair's
        own input has none."""
        result = live.process(key, value, topic, offset, True, timestamp_ms)
        if result.skipped:
            self.counters["skipped_applied"] += 1
            return
        p = live.partition
        self._count(result, 1, p, [offset] if "fold_error" in result.rejected else [])
        sent = []
        others, facts = goalfacts.pack(result.outputs)
        for record in others:
            out_key = record.key.encode() if record.key is not None else None
            sent.append(
                await self.outputs[record.topic].send(
                    key=out_key, value=canonical_json(record.value), partition=p
                )
            )
        for goal, value in facts:
            sent.append(
                await self.outputs[GOAL_FACTS].send(
                    key=goal.encode(),
                    value=value,
                    partition=partition_for(goal, self.ws.partitions),
                )
            )
        await asyncio.gather(*sent)
        self._write_state(p, live.flush())

    def _write_state(self, partition: int, writes: Writes) -> None:
        """exactly_once: state through Faust's table, inside its transaction."""
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
        await self.flusher.drain(queue_now=not self.exactly_once)

    async def _flush_timer(self) -> None:
        await self.flusher.on_timer()

    # ─── rebalances and shutdown ───────────────────────────────────────────────────

    async def _on_shutdown(self, app: Any, **_: Any) -> None:
        if not self.exactly_once:
            await self.reader.stop()  # after the fetch being folded, if any
        await self.drain_writes()
        if self.goals is not None:
            await self.goals.stop()
        if not self.exactly_once:
            await self._commit_positions(set(self.lives))
        await self.restorer.stop()
        if self._web is not None:
            await self._web.cleanup()

    # ─── metrics and probes ────────────────────────────────────────────────────────

    def _metrics_registry(self) -> Any:
        from prometheus_client import CollectorRegistry

        from streams.ops import WorkerCollector, WorkerView

        registry = CollectorRegistry()
        view = WorkerView(self.counters, self.lives, self._highwater, self.clock.now_ms)
        if self.goals is not None:
            view.goals = self.goals.positions
        registry.register(WorkerCollector(view))
        self.flusher.on_written = flush_histogram(registry).observe
        return registry

    async def _serve_web(self) -> None:
        from streams.ops import Probes, serve

        ws = self.ws
        self._web = await serve(Probes(self._registry, self._not_ready), ws.web_host, ws.web_port)
        if self._web is not None:
            print(
                f"agentfold worker: metrics on http://{ws.web_host}:{ws.web_port}/metrics "
                "(probes: /healthz, /readyz)",
                file=sys.stderr,
                flush=True,
            )

    def _highwater(self, partition: int) -> int | None:
        if not self.exactly_once:
            return self.reader.highwater(partition)
        try:
            high = self.app.consumer.highwater(TP(self.telemetry.get_topic_name(), partition))
        except Exception:  # consumer not started, or the partition not assigned
            return None
        return int(high) if high is not None else None

    def _not_ready(self) -> str | None:
        if not self.assigned:
            return "no partitions assigned yet (joining the consumer group)"
        if self.restoring:
            return f"restoring partition(s) {sorted(self.restoring)}"
        if not self.exactly_once and (unread := self.reader.unread()):
            return f"restoring partition(s) {sorted(unread)}"
        if self.goals is not None and (unread := self.goals.reader.unread()):
            return f"restoring the goal stage of partition(s) {sorted(unread)}"
        if not self.app.producer.started:
            return "the producer is not up"
        return None

    def _telemetry(self, tps: set[TP]) -> set[int]:
        name = self.telemetry.get_topic_name()
        return {tp.partition for tp in tps if tp.topic == name}

    async def _on_revoked(self, app: Any, revoked: set[TP], **_: Any) -> None:
        # The state of revoked partitions must be in the changelog before the next owner
        # restores it (and no late write of ours may follow its writes).
        partitions = self._telemetry(revoked)
        if self.exactly_once:
            await self.drain_writes()
            for p in partitions:
                self.lives.pop(p, None)
                self._delivered.pop(p, None)
            return
        async with self.reader.lock:  # the fetch being folded ends first
            await self.drain_writes()
            await self._commit_positions(partitions)
            self.reader.release(partitions)
        if self.goals is not None:
            async with self.goals.reader.lock:
                await self.goals.release(partitions)
        for p in partitions:
            self._committed.pop(p, None)

    async def _on_assigned(self, app: Any, assigned: set[TP], **_: Any) -> None:
        self.assigned = True
        partitions = self._telemetry(assigned)
        for p in partitions:
            self.last_seen.setdefault(p, self.clock.monotonic())
        if self.exactly_once:
            # Rebuilt from the changelog on each partition's next message.
            for p in partitions:
                self.lives.pop(p, None)
                self._delivered.pop(p, None)
            return
        # Restored and read by the reader; Faust's consumer must not fetch them.
        async with self.reader.lock:
            self.reader.assign(partitions)
        if self.goals is not None:
            async with self.goals.reader.lock:
                self.goals.assign(partitions)
        consumer = self.app.consumer
        skip_livelock_check(consumer, self.reader.topic)
        name = self.reader.topic
        await stop_fetching(consumer, {tp for tp in assigned if tp.topic == name})

    # ─── timers ────────────────────────────────────────────────────────────────────

    async def _ticks(self) -> None:
        """Append a tick to each owned partition that has been idle for an interval and
        has a timer due by now (or, on the exactly-once path, whose state is not restored
        yet: a tick restores it). A partition with nothing pending gets none: ticks go
        into the telemetry topic, which is kept forever."""
        try:
            assignment = self.app.consumer.assignment()
        except Exception:  # consumer not started yet
            return
        name = self.telemetry.get_topic_name()
        now = self.clock.monotonic()
        now_ms = self.clock.now_ms()
        for tp in sorted(assignment):
            if tp.topic != name:
                continue
            if now - self.last_seen.get(tp.partition, 0.0) < self.ws.tick_interval_s:
                continue
            live = self.lives.get(tp.partition)
            due = live.next_deadline if live is not None else now_ms
            if due is not None and due <= now_ms:
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
