"""The live worker on the real embedded broker: live == offline, bad input, crashes.

The worker runs happen once per session in fixtures (tests/streams/conftest.py); the
replay tests check the same namespaces.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from processors.config import FoldConfig
from schemas.timefmt import format_ms
from streams.folding.changelog import restore_partition
from streams.kafka.topicio import end_offsets, produce_lines, read_topic, wait_caught_up
from streams.kafka.topics import create_topics
from streams.worker.app import changelog_record_max
from tests.factory import at
from tests.streams.livelog import (
    FLEET,
    PARTITIONS,
    LiveLog,
    Worker,
    dead_letter_reasons,
    explain,
    lines_of,
    live,
    namespace,
    offline,
)

pytestmark = pytest.mark.broker


def test_live_worker_equals_offline_fold_of_the_fleet(broker: str, fleet_ns: LiveLog) -> None:
    got, dups = live(broker, fleet_ns.ns)
    assert dups == 0
    expected = offline(fleet_ns.lines)
    assert got == expected, explain(got, expected)
    assert dead_letter_reasons(broker, fleet_ns.ns) == Counter(
        {"invalid_json": 2, "schema_violation": 1, "unknown_type": 1}
    )


def restored_positions(broker: str, ns: str) -> dict[int, int]:
    """Per input partition, the next offset a restart would restore from the changelog."""
    table: dict[bytes, bytes] = {}
    for records in asyncio.run(read_topic(broker, f"{ns}-state-changelog")).values():
        for r in records:
            if r.key is None:
                continue
            if r.value is None:
                table.pop(r.key, None)
            else:
                table[r.key] = r.value
    ends = asyncio.run(end_offsets(broker, f"{ns}.telemetry"))
    return {p: restore_partition(p, table.items()).meta.next_offset for p in ends}


def test_a_clean_stop_leaves_the_state_of_every_message_in_the_changelog(
    broker: str, fleet_ns: LiveLog
) -> None:
    """State is flushed behind the outputs' delivery (a writer task); stopping flushes
    and drains, so a restart restores the state past each last input message."""
    ends = asyncio.run(end_offsets(broker, f"{fleet_ns.ns}.telemetry"))
    assert restored_positions(broker, fleet_ns.ns) == ends


def test_a_quiet_worker_flushes_its_state_without_being_stopped(
    broker: str, tmp_path: Path
) -> None:
    """No ticks, no more input, no stop: the flush timer writes the state of the last
    messages. SIGKILLed (nothing drained) a while after catching up, the changelog still
    restores every partition to its end."""
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", lines_of(FLEET), PARTITIONS))
    worker = Worker(broker, ns, tmp_path / "worker.log", flags=["--flush-interval", "0.5"])
    worker.start()
    try:
        asyncio.run(wait_caught_up(broker, ns, f"{ns}.telemetry", 90, settle_s=1))
        time.sleep(1.5)  # three flush intervals
    finally:
        worker.kill()
    ends = asyncio.run(end_offsets(broker, f"{ns}.telemetry"))
    assert restored_positions(broker, ns) == ends


def heavy_lines(actions: int = 8, observations: int = 50) -> list[bytes]:
    """One execution whose open actions hold ≈ 3.3 MB of observations: without a state
    budget its changelog record would be far over any Kafka record limit."""
    lines: list[bytes] = []

    def event(kind: str, minute: int, **data: object) -> None:
        n = len(lines) + 1
        obj = {
            "specversion": "1.0",
            "id": f"heavy-{n}",
            "source": "agent-h",
            "type": f"agentfold.{kind}",
            "subject": "exec-heavy",
            "time": format_ms(at(minute)),
            "seq": n,
            "data": data,
        }
        lines.append(orjson.dumps(obj))

    event("run_started", 0, goal_id="g", goal_description="heavy")
    for a in range(actions):
        event("action_started", 1 + a, action_id=f"act-{a}", action_type="research")
        for o in range(observations):
            data = {f"k{k}": f"{a}.{o}.{k}." + "x" * 400 for k in range(20)}
            event("observation", 1 + a, action_id=f"act-{a}", observation_type="page", data=data)
    event("run_ended", 30, success=True)
    return lines


def test_an_execution_too_big_for_a_record_does_not_wedge_the_worker(
    broker: str, tmp_path: Path
) -> None:
    """The state budget keeps every changelog record far below Kafka's 1 MB default:
    the worker folds the heavy execution and its neighbours, live == offline."""
    ns = namespace()
    lines = heavy_lines()  # alone: the fleet's later times would time its actions out
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", lines, PARTITIONS))
    worker = Worker(broker, ns, tmp_path / "worker.log")
    worker.start()
    worker.finish(timeout_s=90)
    got, _ = live(broker, ns)
    expected = offline(lines)
    assert got == expected, explain(got, expected)
    runs = [orjson.loads(v) for (topic, _), vs in got.items() if topic == "runs" for v in vs]
    assert runs[-1]["status"] == "completed" and runs[-1]["shed"]["summaries"] >= 1
    changelog = asyncio.run(read_topic(broker, f"{ns}-state-changelog"))
    biggest = max(len(r.value or b"") for rs in changelog.values() for r in rs)
    assert biggest <= changelog_record_max(FoldConfig()) < 1_000_000


def test_sigkill_restarts_lose_nothing_and_duplicate_nothing(
    broker: str, crashed_ns: LiveLog
) -> None:
    """SIGKILL the worker at seeded points mid-stream, restart it each time: the
    de-duplicated outputs equal the offline fold — no event lost, no extra planned
    healing action, no duplicate attribution chain."""
    got, dups = live(broker, crashed_ns.ns)
    expected = offline(crashed_ns.lines)
    assert crashed_ns.kills >= 5
    assert got == expected, explain(got, expected)
    planned = sum(b'"status":"planned"' in v for vs in got.values() for v in vs)
    assert planned == sum(b'"status":"planned"' in v for vs in expected.values() for v in vs)
    print(f"crash test: {crashed_ns.kills} kills, {dups} re-sent outputs removed by id")


def test_bad_input_is_dead_lettered_and_valid_neighbours_processed(
    broker: str, bad_input_ns: LiveLog
) -> None:
    ns, bad = bad_input_ns.ns, bad_input_ns.bad
    topic = f"{ns}.telemetry"
    letters = [
        orjson.loads(r.value)
        for rs in asyncio.run(read_topic(broker, f"{ns}.deadletter")).values()
        for r in rs
    ]
    assert Counter(d["reason"] for d in letters) == Counter(
        [reason for _, _, reason in bad] + ["schema_violation"]
    )
    for d in letters:
        assert d["origin"]["topic"] == topic and d["origin"]["offset"] is not None
        assert d["error"]
    garbage = next(d for d in letters if d["original"] == base64.b64encode(bad[0][1]).decode())
    assert garbage["key"] == "exec-ok"
    oversize = next(d for d in letters if d["reason"] == "oversize")
    assert oversize["original_truncated"] and oversize["original_size"] > 1024 * 1024
    runs = [
        orjson.loads(r.value)
        for rs in asyncio.run(read_topic(broker, f"{ns}.runs")).values()
        for r in rs
    ]
    assert [r["status"] for r in runs if r["execution_id"] == "exec-ok"] == ["running", "completed"]


@pytest.mark.broker
def test_the_worker_runs_the_fold_its_parent_runs(fleet_ns: LiveLog) -> None:
    """Started from outside the repository (tests/streams/livelog.py), the worker
    activates the compiled fold itself when this venv has a current build."""
    from streams.native import status

    assert fleet_ns.log is not None
    line = next(x for x in fleet_ns.log.read_text().splitlines() if "; fold: " in x)
    expected = "native (mypyc)" if status().startswith("native") else "pure Python"
    assert f"; fold: {expected}" in line


def _ticks(broker: str, ns: str) -> int:
    parts = asyncio.run(read_topic(broker, f"{ns}.telemetry"))
    # The fleet holds malformed messages too: look for the type, do not parse.
    return sum(1 for rs in parts.values() for r in rs if b'"type":"agentfold.tick"' in r.value)


def test_ticks_stop_when_no_timer_is_pending(broker: str, tmp_path: Path) -> None:
    """Ticks go into the telemetry topic, kept forever: a partition gets them only while
    a timer is due. The fleet's timers are all due by today's clock, so ticks fire them
    (runs time out, windows close, executions are released) — then no more come."""
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", lines_of(FLEET), PARTITIONS))
    worker = Worker(broker, ns, tmp_path / "worker.log", tick=0.2)
    worker.start()
    try:
        asyncio.run(wait_caught_up(broker, ns, f"{ns}.telemetry", 90, settle_s=1))
        deadline = time.monotonic() + 60
        before = -1
        while time.monotonic() < deadline:  # until an interval of 10 ticks passes quietly
            time.sleep(2.0)
            now = _ticks(broker, ns)
            if now == before:
                break
            before = now
        assert now == before, "ticks never stopped"
        assert now >= PARTITIONS  # the timers were fired by ticks, one restore tick each
        runs, _ = live(broker, ns)
        timed_out = [
            r for (topic, _p), rs in runs.items() if topic == "runs" for r in rs
            if orjson.loads(r).get("status") == "timed_out"
        ]  # fmt: skip
        assert timed_out  # the fleet's quiet runs timed out on the ticks' clock
        time.sleep(3.0)  # 15 tick intervals, nothing pending: nothing written
        assert _ticks(broker, ns) == now
    finally:
        worker.stop()
