"""A goal stage partition's flushes and restores (streams/worker/goals.py), without a
broker: whatever mix of flushes a restore finds — a flush cut short, a stale flush of a
worker that lost the partition while stopped — reading on from where it restored gives
the records of an uninterrupted run."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, NamedTuple

import orjson

from processors.goalstage import goal_record
from streams.worker.goals import GoalPartition
from tests.processors.test_goals import partitions_of_facts
from tests.processors.test_goalstage import with_definitions


class Rec(NamedTuple):
    offset: int
    value: bytes


def topic(seed: int) -> list[Rec]:
    """One goalfacts partition: three folds' facts for the goal, interleaved."""
    rng = random.Random(seed)
    queues = with_definitions(partitions_of_facts(seed, 3))
    out: list[Rec] = []
    while any(queues):
        fact = rng.choice([q for q in queues if q]).pop(0)
        out.append(Rec(len(out), orjson.dumps(fact)))
    return out


def records(part: GoalPartition) -> dict[str, Any]:
    return {g: goal_record(s) for g, s in part.goals.items() if s.definition is not None}


def run_to_end(part: GoalPartition, log: list[Rec]) -> GoalPartition:
    part.fold(log[part.expected :], Counter())
    return part


def test_flush_records_hold_every_goal_and_then_the_position() -> None:
    log = topic(1)
    part = run_to_end(GoalPartition(3), log)
    written = part.snapshot()
    assert [k for k, _ in written] == [b"g:g", b"n:3"]
    assert orjson.loads(written[0][1])["at"] == len(log)
    assert part.snapshot() == []  # nothing moved since


def test_any_mix_of_flushes_restores_to_the_same_records() -> None:
    for seed in range(30):
        log = topic(seed)
        expected = records(run_to_end(GoalPartition(0), log))
        rng = random.Random(seed)
        # a worker that flushed at `a`, and one that flushed at `b`; the changelog keeps
        # the latest record per key, whichever of the two wrote it last
        a, b = sorted(rng.randrange(len(log) + 1) for _ in range(2))
        early, late = GoalPartition(0), GoalPartition(0)
        early.fold(log[:a], Counter())
        late.fold(log[:b], Counter())
        snapshots = [dict(early.snapshot()), dict(late.snapshot())]
        table: dict[bytes, bytes] = {}
        for key in sorted(set(snapshots[0]) | set(snapshots[1])):
            source = [s for s in snapshots if key in s]
            table[key] = rng.choice(source)[key]
        restored = GoalPartition(0)
        restored.restore(table)
        assert restored.expected <= b
        assert records(run_to_end(restored, log)) == expected, seed
