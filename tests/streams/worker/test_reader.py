"""The telemetry reader on the embedded broker: each owned partition read once, in
order, from its restored state's offset; nothing of a released partition folded after
its release; a partition that comes back restored and read from its state again."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from processors.config import FoldConfig
from streams.folding.partition import LivePartition
from streams.kafka.topicio import end_offsets, produce_lines
from streams.kafka.topics import create_topics
from streams.testing import generate
from streams.worker.reader import PartitionReader
from tests.streams.livelog import namespace

pytestmark = pytest.mark.broker

CFG = FoldConfig()


async def _until(condition: Any, timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _scenario(broker: str) -> None:
    ns = namespace()
    topic = f"{ns}.telemetry"
    await create_topics(broker, ns, 2)
    await produce_lines(broker, topic, generate(400, 40, seed=3), 2)
    ends = await end_offsets(broker, topic)
    assert ends[0] > 10 and ends[1] > 10

    lives: dict[int, LivePartition] = {}
    restores: list[int] = []
    folded: dict[int, list[int]] = {0: [], 1: []}
    state_at = {0: 7, 1: 0}  # where each partition's "restored state" stands

    async def restore(p: int) -> LivePartition:
        restores.append(p)
        live = LivePartition(CFG, p)
        live.fold.state.meta.next_offset = state_at[p]
        return live

    async def fold(live: LivePartition, records: Sequence[Any]) -> None:
        folded[live.partition] += [r.offset for r in records]
        live.process_fetch(records, topic)

    crashes: list[BaseException] = []

    async def on_crash(exc: BaseException) -> None:
        crashes.append(exc)

    restoring: set[int] = set()
    reader = PartitionReader(
        broker, topic, lives, restore, fold, restoring, max_records=50, on_crash=on_crash
    )
    try:
        async with reader.lock:
            reader.assign({0, 1})
        await _until(lambda: lives.get(0) is not None and lives[0].expected == ends[0])
        await _until(lambda: lives.get(1) is not None and lives[1].expected == ends[1])
        assert folded[0] == list(range(7, ends[0])), "read from the restored offset, in order"
        assert folded[1] == list(range(0, ends[1]))
        assert sorted(restores) == [0, 1] and not restoring
        assert reader.highwater(0) == ends[0]

        # Partition 0 moves away: what arrives for it afterwards is not folded here.
        async with reader.lock:
            reader.release({0})
        assert 0 not in lives
        await produce_lines(broker, topic, generate(400, 40, seed=4), 2)
        later = await end_offsets(broker, topic)
        await _until(lambda: lives[1].expected == later[1])
        assert folded[0] == list(range(7, ends[0]))
        assert folded[1] == list(range(0, later[1]))

        # It comes back: restored again, read from where its state stands.
        state_at[0] = ends[0] - 3
        folded[0].clear()
        async with reader.lock:
            reader.assign({0, 1})
        await _until(lambda: lives.get(0) is not None and lives[0].expected == later[0])
        assert folded[0] == list(range(ends[0] - 3, later[0]))
        assert restores.count(0) == 2 and restores.count(1) == 2
        assert not crashes
    finally:
        await reader.stop()
    assert reader.highwater(1) is None  # stopped: nothing read any more


def test_reader_reads_owned_partitions_from_their_state(broker: str) -> None:
    asyncio.run(_scenario(broker))
