"""The goal stage in live workers: goal facts repartitioned by goal id, folded into the
compacted goals topic — equal to the offline computation, across workers and crashes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest

from processors.config import FoldConfig
from schemas.canonical import canonical_json
from schemas.envelope import goal_defined
from schemas.outputs import GOALS, OutputRecord, validate_output
from streams.cli import main
from streams.cli.goals import load_goals
from streams.folding.offline import OfflineFold
from streams.kafka.partitioner import partition_for
from streams.kafka.topicio import produce_lines, read_topic
from streams.kafka.topics import create_topics
from streams.views.goals import goal_records
from tests.streams.livelog import (
    PARTITIONS,
    ROOT,
    LiveLog,
    Worker,
    lines_of,
    live_goals,
    namespace,
)

pytestmark = pytest.mark.broker

GOALS_LOG = ROOT / "examples" / "goals.jsonl"
SUPPORT = ROOT / "examples" / "goals" / "support.toml"


def expected_goals(lines: list[bytes]) -> dict[str, bytes]:
    """The offline fold's goal facts, through the goal stage: each goal's record."""
    facts = [
        e.record.value
        for e in OfflineFold(FoldConfig(), PARTITIONS).feed_lines(lines)
        if e.record.topic == "goalfacts"
    ]
    return {r.key: canonical_json(r.value) for r in goal_records(facts) if r.key is not None}


def explain(got: dict[str, bytes], expected: dict[str, bytes]) -> str:
    for goal in sorted(set(got) | set(expected)):
        if got.get(goal) != expected.get(goal):
            return f"goal {goal}:\n live    {got.get(goal)!r}\n offline {expected.get(goal)!r}"
    return "equal"


def test_two_workers_fold_two_goals_exactly_as_offline(broker: str, tmp_path: Path) -> None:
    """Two goals, two workers in one group: each worker's fold writes facts for both
    goals, and each goal's facts meet in one goalfacts partition, which either worker
    may own."""
    ns = namespace()
    now = int(time.time() * 1000)
    definitions = [canonical_json(goal_defined(g, now)) for g in load_goals(SUPPORT)]
    lines = definitions + lines_of(GOALS_LOG)
    goals = sorted({str(orjson.loads(d)["data"]["goal_id"]) for d in definitions})
    assert len(goals) == 2
    expected = expected_goals(lines)
    assert sorted(expected) == goals
    assert all(orjson.loads(v)["metrics"]["total_decisions"] > 0 for v in expected.values())
    # support-triage's c-cost budget (tokens <= 500) is broken by four tickets
    assert orjson.loads(expected["support-triage"])["violations_total"] == 4

    asyncio.run(create_topics(broker, ns, PARTITIONS))
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", lines, PARTITIONS))
    workers = [Worker(broker, ns, tmp_path / f"worker-{i}.log") for i in range(2)]
    for w in workers:
        w.start()
    try:
        workers[0].finish(timeout_s=90)  # input committed, goal facts all read
    finally:
        workers[1].stop()
    got = live_goals(broker, ns)
    assert got == expected, explain(got, expected)
    for goal, value in got.items():  # on contract (the goals topic's JSON Schema)
        validate_output(OutputRecord(GOALS, goal, orjson.loads(value)))
    # every goal's records are in its goal's partition, facts and progress alike
    for topic in ("goalfacts", "goals"):
        parts = asyncio.run(read_topic(broker, f"{ns}.{topic}"))
        for p, records in parts.items():
            assert {partition_for(r.key.decode(), PARTITIONS) for r in records if r.key} <= {p}
    assert main(["replay", "--broker", broker, "--prefix", ns, "--verify", "-q"]) == 0


def test_the_goal_stage_survives_the_crashes(broker: str, crashed_ns: LiveLog) -> None:
    """The crash namespace (six SIGKILLs): the goal stage restored its goals and position
    each time and skipped the facts the refolding fold emitted again."""
    expected = expected_goals(crashed_ns.lines)
    assert expected, "the crash log defines a goal"
    got = live_goals(broker, crashed_ns.ns)
    assert got == expected, explain(got, expected)
