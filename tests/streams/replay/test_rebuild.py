"""Replay on the real embedded broker: it equals what the live worker emitted (also
after crashes), is byte-identical run after run, and its narrower forms equal their
definitions. The live namespaces come from the session fixtures in conftest.py."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from processors.config import FoldConfig
from processors.fold import PartitionFold
from schemas.canonical import canonical_json
from schemas.codec import decode_message
from schemas.outputs import LIVE_OUTPUT_TOPICS, TELEMETRY
from schemas.records import GoalDefined, Tick
from schemas.timefmt import parse_rfc3339_ms
from streams.cli import main
from streams.kafka.partitioner import partition_for
from streams.kafka.topicio import read_topic
from streams.kafka.topics import create_topics
from streams.replay.rebuild import ReplayRequest, ReplayResult, concerns, replay
from streams.replay.verify import group_replay, verify
from tests.streams.livelog import PARTITIONS, LiveLog, Outputs, explain, live, namespace

pytestmark = pytest.mark.broker
CFG = FoldConfig()


def rebuilt(request: ReplayRequest) -> Iterator[ReplayResult]:
    result = replay(request, CFG)
    try:
        yield result
    finally:
        shutil.rmtree(result.workdir, ignore_errors=True)


def by_slot(result: ReplayResult, with_dead_letters: bool = True) -> Outputs:
    out: Outputs = {}
    for p, record in result.records():
        if with_dead_letters or record.topic != "deadletter":
            out.setdefault((record.topic, p), []).append(canonical_json(record.value))
    return out


def test_replay_equals_the_live_outputs_of_the_fleet(broker: str, fleet_ns: LiveLog) -> None:
    for result in rebuilt(ReplayRequest(broker, fleet_ns.ns)):
        got, _ = live(broker, fleet_ns.ns, with_dead_letters=True)
        assert by_slot(result) == got, explain(by_slot(result), got)
        assert result.partitions == PARTITIONS and result.rejected == 4
        assert verify(broker, fleet_ns.ns, group_replay(result.records(), result.partitions)).ok


def test_replay_equals_live_after_the_crash_tests_restarts(
    broker: str, crashed_ns: LiveLog
) -> None:
    got, dups = live(broker, crashed_ns.ns, with_dead_letters=True)
    for result in rebuilt(ReplayRequest(broker, crashed_ns.ns, jobs=2)):
        assert result.jobs == 2
        assert by_slot(result) == got, explain(by_slot(result), got)
        report = verify(broker, crashed_ns.ns, group_replay(result.records(), result.partitions))
        assert report.ok, report.differences[:3]
        assert report.duplicates == dups


def test_replay_twice_is_byte_identical_whatever_the_jobs(broker: str, crashed_ns: LiveLog) -> None:
    runs = []
    for jobs in (1, 2, 1):
        for result in rebuilt(ReplayRequest(broker, crashed_ns.ns, jobs=jobs)):
            runs.append(b"".join(result.lines()))
    assert len(runs[0]) > 100_000
    assert runs[0] == runs[1] == runs[2]


def test_replay_reproduces_the_dead_letters(broker: str, bad_input_ns: LiveLog) -> None:
    for result in rebuilt(ReplayRequest(broker, bad_input_ns.ns)):
        letters = [r for _, r in result.records() if r.topic == "deadletter"]
        assert len(letters) == len(bad_input_ns.bad) + 1
        report = verify(broker, bad_input_ns.ns, group_replay(result.records(), result.partitions))
        assert report.ok
        assert sum(s.live for (t, _), s in report.slots.items() if t == "deadletter") == 8


def test_one_execution_equals_the_full_replay_filtered(broker: str, crashed_ns: LiveLog) -> None:
    ns = crashed_ns.ns
    for full in rebuilt(ReplayRequest(broker, ns)):
        everything = list(full.records())
    for exec_id in ("exec-stagnant", "exec-000042", "exec-nobody"):
        p = partition_for(exec_id, PARTITIONS)
        for one in rebuilt(ReplayRequest(broker, ns, execution=exec_id)):
            assert set(one.parts) == {p}  # only its partition was read
            mine = list(one.records())
            assert mine == [(q, r) for q, r in everything if concerns(r, exec_id)]
            topics = {r.topic for _, r in mine}
            if exec_id == "exec-stagnant":
                assert topics >= {"runs", "stagnation", "healing"}
            elif exec_id == "exec-000042":
                assert "runs" in topics
            else:
                assert not mine


def cut_fold(lines: list[bytes], until_ms: int) -> Outputs:
    """The definition of --until, spelled out over the produced log: each partition
    folds its messages in order up to its first event stamped after `until_ms`."""
    folds = [PartitionFold(CFG, p) for p in range(PARTITIONS)]
    cut: set[int] = set()
    out: Outputs = {}
    for raw in lines:
        for event in decode_message(raw).events:
            if type(event) in (Tick, GoalDefined) and event.data.partition is None:  # type: ignore[union-attr]
                targets = list(range(PARTITIONS))
            elif type(event) in (Tick, GoalDefined):
                targets = [event.data.partition]  # type: ignore[union-attr]
            else:
                targets = [partition_for(event.subject, PARTITIONS)]  # type: ignore[arg-type]
            for p in targets:
                if p in cut:
                    continue
                if event.time > until_ms:
                    cut.add(p)
                    continue
                for record in folds[p].apply(event):
                    out.setdefault((record.topic, p), []).append(canonical_json(record.value))
    return out


@pytest.mark.parametrize("until", ["2026-11-22T09:30:00Z", "2026-11-22T12:00:00.500Z"])
def test_until_equals_the_fold_of_the_log_cut_at_that_time(
    broker: str, fleet_ns: LiveLog, until: str
) -> None:
    until_ms = parse_rfc3339_ms(until)
    for result in rebuilt(ReplayRequest(broker, fleet_ns.ns, until_ms=until_ms)):
        got = by_slot(result, with_dead_letters=False)
        assert got == cut_fold(fleet_ns.lines, until_ms)
        assert all(r.cut for r in result.parts.values())
        for full in rebuilt(ReplayRequest(broker, fleet_ns.ns)):
            assert result.outputs < full.outputs


async def _copy_namespace(broker: str, src: str, dst: str, tamper: str | None = None) -> None:
    """dst gets src's telemetry and live outputs, record for record (optionally with the
    score of the first `tamper` record changed)."""
    await create_topics(broker, dst, PARTITIONS)
    producer = AIOKafkaProducer(bootstrap_servers=broker, max_request_size=4 << 20)
    await producer.start()
    try:
        for topic in (TELEMETRY, *LIVE_OUTPUT_TOPICS):
            parts = await read_topic(broker, f"{src}.{topic}")
            for p, records in parts.items():
                for r in records:
                    value = r.value
                    if topic == "deadletter":  # they name the topic they came from
                        value = value.replace(f"{src}.".encode(), f"{dst}.".encode())
                    if topic == tamper:
                        doc = orjson.loads(value)
                        doc["score"] = round(doc["score"] + 0.01, 6)
                        value, tamper = canonical_json(doc), None
                    await producer.send(f"{dst}.{topic}", value, key=r.key, partition=p)
        await producer.flush()
    finally:
        await producer.stop()


def test_verify_exits_0_on_live_topics_and_1_after_tampering(
    broker: str, fleet_ns: LiveLog, capsys: pytest.CaptureFixture[str]
) -> None:
    faithful, tampered = namespace(), namespace()
    asyncio.run(_copy_namespace(broker, fleet_ns.ns, faithful))
    asyncio.run(_copy_namespace(broker, fleet_ns.ns, tampered, tamper="stagnation"))
    assert main(["replay", "--broker", broker, "--prefix", faithful, "--verify", "-q"]) == 0
    assert "IDENTICAL" in capsys.readouterr().out
    assert main(["replay", "--broker", broker, "--prefix", tampered, "--verify", "-q"]) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT" in out and "stagnation" in out and "score" in out


def test_replay_cli_writes_jsonl_and_shadow_topics_never_live_ones(
    broker: str, fleet_ns: LiveLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = fleet_ns.ns
    out = tmp_path / "rebuilt.jsonl"
    assert main(["replay", "--broker", broker, "--prefix", ns, "--out", str(out), "-q"]) == 0
    lines = out.read_bytes().splitlines()
    got, _ = live(broker, ns, with_dead_letters=True)
    assert len(lines) == sum(len(v) for v in got.values())
    first = orjson.loads(lines[0])
    assert set(first) == {"topic", "partition", "key", "value"}
    assert first["topic"].startswith(ns + ".")

    # Shadow topics: refused when they would collide with a live namespace.
    other_live = namespace()
    asyncio.run(create_topics(broker, other_live, PARTITIONS))
    for bad in (ns, other_live):
        assert main(["replay", "--broker", broker, "--prefix", ns, "--to-prefix", bad]) == 2
        assert "live" in capsys.readouterr().err
    shadow = namespace()
    args = ["replay", "--broker", broker, "--prefix", ns, "--to-prefix", shadow, "-q"]
    assert main(args) == 0
    written, _ = live(broker, shadow, with_dead_letters=True)
    assert written == got
    assert main(args) == 2  # a second replay into the same shadow would interleave
    assert "already holds" in capsys.readouterr().err


def test_runs_show_and_list(
    broker: str, fleet_ns: LiveLog, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--broker", broker, "--prefix", fleet_ns.ns]
    assert main(["runs", "show", "exec-stagnant", *base]) == 0
    text = capsys.readouterr().out
    for section in ("execution exec-stagnant", "decisions", "stagnation windows", "healing"):
        assert section in text
    assert main(["runs", "show", "exec-stagnant", "--json", *base]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["run"]["execution_id"] == "exec-stagnant"
    assert doc["windows"] and doc["healing"]
    assert all(d["outcome"] is not None for d in doc["decisions"][:-1])
    assert main(["runs", "show", "exec-nobody", *base]) == 2
    assert "not found" in capsys.readouterr().err

    assert main(["runs", "list", "--json", *base]) == 0
    rows = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "exec-stagnant" in {r["execution_id"] for r in rows}
    assert main(["runs", "list", "--status", "completed", *base]) == 0
    listed = capsys.readouterr().out
    completed = {r["execution_id"] for r in rows if r["status"] == "completed"}
    assert completed and all(e[:24] in listed for e in completed)
    assert f"{len(completed)} run(s)" in listed


def test_produce_routes_like_the_offline_fold(broker: str, tmp_path: Path) -> None:
    """`agentfold produce` then replay, no worker: equals `agentfold fold` of the file."""
    from tests.streams.livelog import FLEET, lines_of, offline

    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    assert main(["produce", str(FLEET), "--broker", broker, "--prefix", ns]) == 0
    for result in rebuilt(ReplayRequest(broker, ns)):
        assert by_slot(result, with_dead_letters=False) == offline(lines_of(FLEET))
    assert main(["produce", str(FLEET), "--broker", broker, "--prefix", namespace()]) == 2
