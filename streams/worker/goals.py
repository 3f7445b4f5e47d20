"""The goal stage in the worker: its partitions of `goalfacts` folded into the
compacted `goals` topic (processors/goalstage.py).

`goalfacts` is partitioned by goal id, with as many partitions as telemetry; the worker
that owns telemetry partition q runs the goal stage of `goalfacts` partition q too, so
the stage scales with the group and moves with it. It reads its partitions a fetch at a
time (streams/worker/reader.py), writes each changed goal's record to `goals` after
every fetch, and keeps its state in the worker's changelog, beside the fold's:

    b"g:<goal_id>" → {"p": q, "at": offset, "s": the goal's state and definition}
    b"n:<q>"       → {"p": q, "next_offset": the goalfacts offset read up to}

A flush — once the goal records it covers are delivered — writes every goal of the
partition with the offset read up to (`at`), then that offset as the position (which
`agentfold status` reports). A restore reads from the lowest `at` among its goals: each
goal's state holds every fact before its `at`, and each goal skips the facts it applied
already (it keeps the number of the last fact it applied from each source partition),
so reading from further back is only slower. That covers a flush cut short by a crash
(some goals a flush ahead of others), a fact the fold emitted twice (a refold after a
crash), and a stale flush of a worker that lost the partition while it was stopped: it
writes its older `at` with its older states, and the next restore reads from there.
Every goal is rewritten by every flush that moved (goals are few: at most `goals_cap`),
so no `at` stays behind and a restore reads at most from the last complete flush.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from processors.goalstage import GoalSlot, fold_fact, goal_record, slot_from_json, slot_to_json
from schemas.canonical import canonical_json
from streams.clock import SYSTEM_CLOCK, Clock
from streams.folding.changelog import GOAL_PREFIX, POSITION_PREFIX, position_key
from streams.folding.goalfacts import unpack
from streams.worker.reader import PartitionReader
from streams.worker.restore import Restorer

log = logging.getLogger("agentfold.worker")

# The producer's send: (topic, key, value, partition, timestamp, headers) → a future.
Send = Callable[[str, bytes | None, bytes | None, int, None, None], Awaitable[Any]]


def is_goal_key(key: bytes | None) -> bool:
    return key is not None and key.startswith((GOAL_PREFIX, POSITION_PREFIX))


@dataclass(slots=True)
class GoalPartition:
    """One partition of the goal stage: its goals and where it stands in `goalfacts`."""

    partition: int
    expected: int = 0  # the next goalfacts offset to fold
    goals: dict[str, GoalSlot] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)  # changed since the last flush
    written: int = 0  # the position the last flush wrote

    def restore(self, items: dict[bytes, bytes]) -> None:
        position, lowest = 0, None
        for key, value in sorted(items.items()):
            obj = orjson.loads(value)
            if int(obj["p"]) != self.partition:
                continue
            if key.startswith(GOAL_PREFIX):
                slot = slot_from_json(obj["s"])
                self.goals[slot.state.goal_id] = slot
                at = int(obj["at"])
                lowest = at if lowest is None else min(lowest, at)
            elif key == position_key(self.partition):
                position = int(obj["next_offset"])
        self.expected = self.written = position if lowest is None else lowest

    def snapshot(self) -> list[tuple[bytes, bytes]]:
        """The changelog records of a flush: every goal at the offset read up to, then
        that offset — none when nothing moved since the last one."""
        if not self.dirty and self.written == self.expected:
            return []
        p, at = self.partition, self.expected
        out = [
            (
                GOAL_PREFIX + goal_id.encode(),
                orjson.dumps({"p": p, "at": at, "s": slot_to_json(slot)}),
            )
            for goal_id, slot in sorted(self.goals.items())
        ]
        out.append((position_key(p), orjson.dumps({"p": p, "next_offset": at})))
        self.dirty.clear()
        self.written = at
        return out

    def fold(self, records: Sequence[Any], counters: Counter[str]) -> list[str]:
        """Fold one fetch; the goals it changed, in order."""
        changed: dict[str, None] = {}
        goals = self.goals
        for r in records:
            if r.offset < self.expected:
                continue
            self.expected = r.offset + 1
            try:
                for fact in unpack(r.value):
                    if fold_fact(goals, fact):
                        changed[str(fact["goal_id"])] = None
                        counters["goals.facts"] += 1
                    else:
                        counters["goals.skipped"] += 1
            except Exception as exc:  # the topic is ours, but anyone can write to it
                counters["goals.bad_fact"] += 1
                log.warning(
                    "goalfacts partition %d offset %d: not a goal fact, skipped (%r)",
                    self.partition,
                    r.offset,
                    exc,
                )
        self.dirty.update(changed)
        return list(changed)


class GoalStage:
    """Owns the worker's partitions of the goal stage: reads, folds, writes, flushes."""

    def __init__(
        self,
        broker: str,
        facts_topic: str,
        goals_topic: str,
        changelog: str,
        send: Send,
        restorer: Restorer,
        counters: Counter[str],
        *,
        max_records: int,
        flush_interval_s: float,
        on_crash: Callable[[BaseException], Awaitable[None]],
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.goals_topic = goals_topic
        self.changelog = changelog
        self._send = send
        self._restorer = restorer
        self.counters = counters
        self.clock = clock
        self.flush_interval_s = flush_interval_s
        self.parts: dict[int, GoalPartition] = {}
        self.restoring: set[int] = set()
        self._pending: list[Any] = []  # deliveries of goal records since the last flush
        self._flushing = asyncio.Lock()
        self._flush_at = clock.monotonic() + flush_interval_s
        self.reader: PartitionReader[GoalPartition] = PartitionReader(
            broker,
            facts_topic,
            self.parts,
            self._restore,
            self._fold,
            self.restoring,
            max_records=max_records,
            on_crash=on_crash,
            what="goal facts",
        )

    async def _restore(self, partition: int) -> GoalPartition:
        items, n_records = await self._restorer.read_changelog(partition, is_goal_key)
        part = GoalPartition(partition)
        part.restore(items)
        log.info(
            "goal stage partition %d: restored (%d goals, next offset %d, %d changelog records)",
            partition,
            len(part.goals),
            part.expected,
            n_records,
        )
        return part

    async def _fold(self, part: GoalPartition, records: Sequence[Any]) -> None:
        """Fold a fetch (the reader holds its lock) and write each changed goal's record."""
        send, topic, p = self._send, self.goals_topic, part.partition
        for goal_id in part.fold(records, self.counters):
            slot = part.goals[goal_id]
            if slot.definition is None:
                continue
            value = canonical_json(goal_record(slot))
            self._pending.append(await send(topic, goal_id.encode(), value, p, None, None))
            self.counters["out.goals"] += 1
        if self.clock.monotonic() >= self._flush_at:
            await self.flush()

    async def on_timer(self) -> None:
        """Flush a stage that went quiet (a busy one flushes as it folds)."""
        if self.clock.monotonic() >= self._flush_at:
            async with self.reader.lock:
                await self.flush()

    async def flush(self) -> None:
        """Write every goal of each partition that moved since the last flush, then its
        position — once the goal records they cover are delivered."""
        self._flush_at = self.clock.monotonic() + self.flush_interval_s
        writes = [(p, k, v) for p, part in sorted(self.parts.items()) for k, v in part.snapshot()]
        pending, self._pending = self._pending, []
        if not writes and not pending:
            return
        async with self._flushing:  # flushes land in the order they were taken
            await asyncio.gather(*pending)
            sent = [await self._send(self.changelog, k, v, p, None, None) for p, k, v in writes]
            await asyncio.gather(*sent)
        self.counters["goals.flushes"] += 1

    def positions(self) -> dict[int, tuple[int, int | None, int]]:
        """Per partition: next goalfacts offset, its high watermark (None: not read
        yet), goals held — for the metrics."""
        return {
            p: (part.expected, self.reader.highwater(p), len(part.goals))
            for p, part in sorted(self.parts.items())
        }

    def assign(self, partitions: set[int]) -> None:
        self.reader.assign(partitions)

    async def release(self, partitions: set[int]) -> None:
        """Before `partitions` move (the caller holds the reader's lock): state written."""
        await self.flush()
        self.reader.release(partitions)

    async def stop(self) -> None:
        await self.reader.stop()
        async with self.reader.lock:
            await self.flush()
