"""Where the worker reaches past Faust's public API — each workaround with its reason,
and nowhere else in the project."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import faust
from aiokafka import TopicPartition
from faust.types import TP
from faust.types.tuples import Message


class StateTable(faust.Table[bytes, bytes]):
    """A table whose writes name their changelog partition (`write_partition`) instead
    of taking it from the stream event being processed — so that the writer task can
    apply a message's state after its outputs are delivered, outside the iteration.
    (Faust refuses table writes outside stream iteration otherwise, and its
    `use_partitioner` option breaks co-partitioning with the source topic.)"""

    write_partition: int | None = None

    def partition_for_key(self, key: Any) -> int | None:
        if self.write_partition is not None:
            return self.write_partition
        return super().partition_for_key(key)


def committed_offset(consumer: Any, tp: TP) -> int | None:
    """The offset Faust's consumer last committed for `tp`. Private (`_committed_offset`):
    Faust exposes no public view of it, and `ack_skipped` needs it after a rebalance."""
    committed: dict[TP, int] = getattr(consumer, "_committed_offset", {})
    return committed.get(tp)


def ack_skipped(consumer: Any, topic: str, partition: int, start: int, offset: int) -> None:
    """Acknowledge offsets [start, offset) that Faust's stream jumped over (it can, around
    rebalances: faust-streaming #216/#221). Faust commits an offset only once every
    offset below it was acknowledged, so unacknowledged gaps would stop its commits for
    good; the worker has folded them itself by then. Faust acknowledges messages, not
    offsets: a stand-in `Message` carries each one."""
    tp = TP(topic, partition)
    for skipped in range(start, offset):
        consumer.ack(Message(topic, partition, skipped, 0.0, 0, None, None, None, None, tp=tp))


async def stop_fetching(consumer: Any, tps: Iterable[TP]) -> None:
    """Make Faust's consumer fetch nothing from `tps`: the worker reads them itself
    (streams/worker/reader.py) while Faust keeps them assigned. Faust's own
    `pause_partitions` only filters what its fetcher hands on (aiokafka still fetches
    and buffers them), and its recovery resumes every partition once tables are
    restored; aiokafka's pause stops the fetches themselves. It must run in Faust's
    consumer thread (it makes a future of that thread's loop: `_thread`), and aiokafka
    forgets it at the next assignment: call it on every one."""
    thread = consumer._thread
    aio = thread._ensure_consumer()
    parts = [TopicPartition(tp.topic, tp.partition) for tp in tps]

    async def pause() -> None:
        aio.pause(*parts)

    await thread.call_thread(pause)


def skip_livelock_check(consumer: Any, topic: str) -> None:
    """Faust's livelock detector logs an error for every assigned partition it has not
    fetched from for `stream_processing_timeout` — every telemetry partition, once the
    worker reads them itself. Exempt that topic (the worker's readiness and lag metrics
    watch it instead); `verify_event_path` is the one method the detector calls."""
    if getattr(consumer, "_agentfold_exempt", None) == topic:
        return
    verify = consumer.verify_event_path

    def verify_others(now: float, tp: TP) -> None:
        if tp.topic != topic:
            verify(now, tp)

    consumer.verify_event_path = verify_others
    consumer._agentfold_exempt = topic


async def commit_offsets(consumer: Any, offsets: Mapping[TP, int]) -> bool:
    """Commit `offsets` for the group through Faust's consumer (the group member; a
    commit from any other client is refused with the group's generation). Faust commits
    only offsets its streams acknowledged message by message; the worker's reader
    acknowledges none, so it commits its own positions: `_commit` is the consumer's
    raw commit, which skips partitions no longer assigned and returns False when a
    rebalance came first."""
    if not offsets:
        return True
    return bool(await consumer._commit(offsets))


def store_get(table: Any, key: bytes) -> bytes | None:
    """One key of the store Faust's recovery filled. Read only as evidence (the worker
    restores from its own read of the changelog, streams/worker/restore.py); `data` is
    the store behind the table's mapping interface, which `table[key]` would bypass."""
    value: bytes | None = table.data.get(key)  # `data`: not declared by Faust's TableT
    return value


class SignalledWorker(faust.Worker):
    """Faust's worker, remembering the signal that stopped it (the command exits 130 on
    SIGINT, 143 on SIGTERM, as shells expect) and exiting at once on a second one: mode
    ignores every signal after the first while it drains, so an operator's second
    Ctrl-C would otherwise do nothing. Overrides mode's private `_schedule_shutdown`,
    the one place both signals arrive."""

    stopped_by: int | None = None
    on_abort: Callable[[], None] | None = None  # e.g. stop the embedded broker
    stop_timeout_s: float = 8.0  # a drain that takes longer gives up (WorkerSettings)

    def _schedule_shutdown(self, sig: signal.Signals) -> None:
        if self.stopped_by is not None:
            self._abort(int(sig), None)
        self.stopped_by = int(sig)
        # A drain can wait for a broker that is gone (the flush cannot be written, the
        # group cannot be left). Past the deadline, exit as after a crash: the state
        # trails the log, and the next start refolds from the last flush.
        watchdog = threading.Timer(self.stop_timeout_s, self._give_up)
        watchdog.daemon = True
        watchdog.start()
        print(
            f"agentfold worker: {sig.name} received, finishing the flush in progress "
            "(again to stop at once)",
            file=sys.stderr,
            flush=True,
        )
        # The second signal must not wait for the event loop, which a draining shutdown
        # may keep busy: a plain handler runs between any two bytecodes.
        for each in (signal.SIGINT, signal.SIGTERM):
            signal.signal(each, self._abort)
        super()._schedule_shutdown(sig)

    def _give_up(self) -> None:
        print(
            f"agentfold worker: could not finish stopping within {self.stop_timeout_s:g} s "
            "(is the broker reachable?); exiting — the next start refolds from the last flush",
            file=sys.stderr,
            flush=True,
        )
        if self.on_abort is not None:
            self.on_abort()
        os._exit(128 + (self.stopped_by or signal.SIGTERM))

    def _abort(self, signum: int, frame: object) -> None:
        print("agentfold worker: stopped at once (second signal)", file=sys.stderr)
        if self.on_abort is not None:
            self.on_abort()
        os._exit(128 + (self.stopped_by or signum))
