"""The embedded broker and topic management, against the real broker process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.cli import main
from streams.kafka.broker import BrokerUnavailable, EmbeddedBroker
from streams.kafka.partitioner import partition_for
from streams.kafka.topics import SPECS, create_topics, list_topics

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.broker


def test_topics_are_created_idempotently_with_their_partition_count(broker: str) -> None:
    created = asyncio.run(create_topics(broker, "t1", 3))
    assert sorted(created) == sorted(spec.name("t1") for spec in SPECS)
    assert asyncio.run(create_topics(broker, "t1", 3)) == []
    listed = asyncio.run(list_topics(broker, "t1"))
    assert listed == {spec.name("t1"): 3 for spec in SPECS}


def test_topic_configs_spell_out_cleanup_policies() -> None:
    by_name = {spec.logical: spec.configs() for spec in SPECS}
    assert by_name["runs"]["cleanup.policy"] == "compact"
    assert by_name["telemetry"] == {"cleanup.policy": "delete", "retention.ms": "-1"}


def test_durability_settings_reach_every_topic(
    broker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.kafka.topics import new_topics

    topics = new_topics("t9", 6, replication=3, min_insync=2)
    assert {(t.num_partitions, t.replication_factor) for t in topics} == {(6, 3)}
    assert {t.topic_configs["min.insync.replicas"] for t in topics} == {"2"}
    assert all("cleanup.policy" in t.topic_configs for t in topics)  # kept, not replaced
    base = ["topics", "create", "--broker", broker, "--prefix", "t9"]
    assert main([*base, "--min-insync-replicas", "2"]) == 2  # one replica: never writable
    assert "more than --replication-factor 1" in capsys.readouterr().err
    assert main([*base, "--replication-factor", "1", "--min-insync-replicas", "1"]) == 0


def test_keyed_messages_land_where_the_offline_fold_routes_them(broker: str) -> None:
    asyncio.run(create_topics(broker, "t2", 4))

    async def roundtrip() -> dict[str, int]:
        producer = AIOKafkaProducer(bootstrap_servers=broker)
        await producer.start()
        keys = [f"exec-{i}" for i in range(20)]
        for k in keys:
            await producer.send_and_wait("t2.telemetry", b"{}", key=k.encode())
        await producer.stop()
        consumer = AIOKafkaConsumer(
            "t2.telemetry", bootstrap_servers=broker, auto_offset_reset="earliest"
        )
        await consumer.start()
        seen: dict[str, int] = {}
        try:
            while len(seen) < len(keys):
                msg = await asyncio.wait_for(consumer.getone(), 10)
                seen[msg.key.decode()] = msg.partition  # type: ignore[union-attr]
        finally:
            await consumer.stop()
        return seen

    for key, partition in asyncio.run(roundtrip()).items():
        assert partition == partition_for(key, 4)


def test_topics_cli_creates_and_lists(broker: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["topics", "create", "--broker", broker, "--prefix", "t3", "--partitions", "2"]) == 0
    )
    out = capsys.readouterr().out
    assert "t3.telemetry\t2 partitions" in out
    assert main(["topics", "list", "--broker", broker, "--prefix", "t3"]) == 0


def test_topics_cli_without_a_broker_says_what_to_do() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "topics", "list"],
        cwd=ROOT,
        capture_output=True,
        env={"PATH": "/usr/bin"},
    )
    assert result.returncode == 2
    assert b"--broker" in result.stderr


def test_broker_stops_cleanly_and_restarts_on_a_new_port() -> None:
    b = EmbeddedBroker()
    b.start()
    assert b.running
    b.stop()
    assert not b.running
    with EmbeddedBroker() as again:
        assert asyncio.run(list_topics(again, "fresh")) == {}  # a new, empty broker answers


def test_missing_binary_gives_an_actionable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", "/nonexistent/tansu")
    with pytest.raises(BrokerUnavailable, match="--broker"):
        EmbeddedBroker().start()


def test_broker_command_prints_its_address_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "broker"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = proc.stdout.readline().decode().strip()  # type: ignore[union-attr]
        assert line.startswith("127.0.0.1:")
    finally:
        proc.terminate()
    assert proc.wait(timeout=15) == 143  # stopped by SIGTERM, as shells report it


def test_end_offsets_and_reads_are_complete_for_batched_produce(broker: str) -> None:
    """Tansu's ListOffsets under-reports the end after batched produce; ours must not."""
    from streams.kafka.topicio import end_offsets, read_topic

    asyncio.run(create_topics(broker, "t4", 3))

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=20)
        await producer.start()
        for i in range(600):
            await producer.send("t4.telemetry", b"%d" % i, partition=i % 2)
        await producer.stop()

    asyncio.run(produce())
    assert asyncio.run(end_offsets(broker, "t4.telemetry")) == {0: 300, 1: 300, 2: 0}
    parts = asyncio.run(read_topic(broker, "t4.telemetry"))
    assert [len(parts[p]) for p in range(3)] == [300, 300, 0]
    assert [r.value for r in parts[1][:2]] == [b"1", b"3"]


async def _read_range(broker: str, topic: str, end: int, stall_s: float) -> list[bytes]:
    from streams.kafka.topicio import iter_range

    consumer = AIOKafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    await consumer.start()
    try:
        return [
            r.value
            async for rs in iter_range(consumer, topic, 0, 0, end, stall_s=stall_s)
            for r in rs
        ]
    finally:
        await consumer.stop()


def test_a_range_is_read_whole_even_when_records_come_late(broker: str) -> None:
    """Polls that come back empty (a slow broker, a busy process) must not cut a range
    short: the worker folds skipped offsets with it, replay reads the log with it. Here
    the last records of the range only arrive after several empty polls."""
    topic = "t5.telemetry"
    asyncio.run(create_topics(broker, "t5", 1))

    async def scenario() -> list[bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=broker)
        await producer.start()
        try:
            for i in range(3):
                await producer.send_and_wait(topic, b"%d" % i, partition=0)
            reader = asyncio.ensure_future(_read_range(broker, topic, 6, stall_s=60))
            await asyncio.sleep(4.5)  # > 3 empty 1-second polls
            for i in range(3, 6):
                await producer.send_and_wait(topic, b"%d" % i, partition=0)
            return await asyncio.wait_for(reader, 30)
        finally:
            await producer.stop()

    assert asyncio.run(scenario()) == [b"%d" % i for i in range(6)]


def test_a_range_that_never_fills_is_an_error_not_a_short_read(broker: str) -> None:
    asyncio.run(create_topics(broker, "t6", 1))
    with pytest.raises(TimeoutError, match="no record at offset 0"):
        asyncio.run(_read_range(broker, "t6.telemetry", 2, stall_s=2))


def test_topics_create_refuses_to_report_success_over_other_partition_counts(
    broker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.cli import main
    from tests.streams.livelog import namespace

    ns = namespace()
    base = ["topics", "create", "--broker", broker, "--prefix", ns]
    assert main([*base, "--partitions", "2"]) == 0
    assert main([*base, "--partitions", "2"]) == 0  # idempotent
    capsys.readouterr()
    assert main([*base, "--partitions", "4"]) == 2
    err = capsys.readouterr().err
    assert f"{ns}.telemetry has 2" in err and "pass the --partitions they have" in err
