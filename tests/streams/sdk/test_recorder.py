"""The SDK over the real embedded broker: what agents record arrives batched per
execution, in order, and folds into their runs; a broker that is down at start is
waited for without blocking or losing events."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from processors.config import FoldConfig
from schemas.codec import decode_message
from streams.folding.offline import OfflineFold
from streams.kafka.broker import EmbeddedBroker, free_port
from streams.kafka.topicio import read_topic
from streams.kafka.topics import create_topics
from streams.sdk.recorder import AsyncRecorder, Recorder
from tests.streams.livelog import PARTITIONS, namespace

pytestmark = pytest.mark.broker


def telemetry(broker: str, ns: str) -> list[tuple[bytes | None, list[dict]]]:
    parts = asyncio.run(read_topic(broker, f"{ns}.telemetry"))
    return [(r.key, orjson.loads(r.value)) for rs in parts.values() for r in rs]


def agent(rec: Recorder | AsyncRecorder, name: str, decisions: int) -> str:
    run = rec.start_run("goal", "a goal", {"n": decisions}, execution_id=name)
    for i in range(decisions):
        d = run.decide(f"step {i}", [{"id": "a"}], "a", "because")
        run.record_outcome(d, success=i % 3 != 0, tokens_used=5)
        run.metric("impressions", float(i))
    run.end_run(success=True)
    return run.execution_id


def test_recorded_runs_arrive_batched_in_order_and_fold(broker: str) -> None:
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    with Recorder(broker=broker, agent_id="bot", topic_prefix=ns) as rec:
        names = [agent(rec, f"exec-sdk-{i}", 40) for i in range(5)]
        assert rec.flush(timeout_s=30)
    messages = telemetry(broker, ns)
    assert len(messages) < 5 * 122  # batched: far fewer messages than events
    seqs: dict[str, list[int]] = {}
    for key, batch in messages:
        assert isinstance(batch, list) and {e["subject"] for e in batch} == {key.decode()}
        seqs.setdefault(key.decode(), []).extend(e["seq"] for e in batch)
    assert sorted(seqs) == names
    assert all(s == list(range(1, 122 + 1)) for s in seqs.values())
    folder = OfflineFold(FoldConfig(), PARTITIONS)
    lines = [orjson.dumps(batch) for _, batch in messages]
    assert all(not decode_message(line).rejected for line in lines)
    runs = [e.record.value for e in folder.feed_lines(lines) if e.record.topic == "runs"]
    ended = {r["execution_id"]: r for r in runs if r["status"] == "completed"}
    assert sorted(ended) == names
    assert ended[names[0]]["metrics"]["total_decisions"] == 40
    assert ended[names[0]]["metrics"]["failed_decisions"] == 14


def test_async_recorder(broker: str) -> None:
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))

    async def main() -> None:
        async with AsyncRecorder(broker=broker, topic_prefix=ns) as rec:
            agent(rec, "exec-async", 10)
            assert await rec.flush(timeout_s=30)

    asyncio.run(main())
    events = [e for _, batch in telemetry(broker, ns) for e in batch]
    assert [e["seq"] for e in events] == list(range(1, 32 + 1))


def test_a_broker_down_at_start_is_waited_for_without_blocking_the_agent() -> None:
    port = free_port()
    ns = namespace()
    rec = Recorder(broker=f"127.0.0.1:{port}", topic_prefix=ns, retry_s=0.2)
    try:
        started = time.monotonic()
        name = agent(rec, "exec-offline", 20)
        assert time.monotonic() - started < 1.0  # recording never waits for the broker
        assert rec.flush(timeout_s=0.5) is False  # nothing can be delivered yet
        with EmbeddedBroker(port=port) as broker:
            asyncio.run(create_topics(broker, ns, PARTITIONS))
            assert rec.flush(timeout_s=60)
            events = [e for _, batch in telemetry(broker, ns) for e in batch]
        assert {e["subject"] for e in events} == {name}
        assert [e["seq"] for e in events] == list(range(1, 62 + 1))
        assert rec.dropped == 0
    finally:
        rec.close(timeout_s=1)


def test_overflow_while_the_broker_is_down_is_dropped_and_counted() -> None:
    rec = Recorder(broker=f"127.0.0.1:{free_port()}", max_buffered_events=50, retry_s=0.2)
    try:
        agent(rec, "exec-overflow", 30)  # 1 + 90 + 1 events
        assert rec.dropped == 92 - 50
    finally:
        rec.close(timeout_s=0.5)


def test_events_not_delivered_are_reported_at_close(caplog: pytest.LogCaptureFixture) -> None:
    """The broker is down for good: close says how many events were lost (strict:
    raises); the delivery report counts them."""
    from streams.sdk import RecorderError

    closed = f"127.0.0.1:{free_port()}"
    rec = Recorder(closed, agent_id="a", retry_s=0.05)
    run = rec.start_run("g", execution_id="exec-lost")
    run.metric("impressions", 1)
    run.end_run(success=True)
    with caplog.at_level("WARNING", logger="agentfold.sdk"):
        rec.close(timeout_s=0.3)
    report = rec.delivery_report()
    assert (report.recorded, report.delivered, report.pending, report.complete) == (3, 0, 3, False)
    assert f"3 of 3 event(s) were not delivered to {closed}" in caplog.text
    strict = Recorder(closed, agent_id="a", retry_s=0.05, strict=True)
    strict.start_run("g", execution_id="exec-lost-2")
    with pytest.raises(RecorderError, match="1 of 1 event"):
        strict.close(timeout_s=0.3)


def test_a_delivered_run_reports_complete(broker: str) -> None:
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    with Recorder(broker, topic_prefix=ns) as rec:
        agent(rec, "exec-ok", 2)
    report = rec.delivery_report()
    assert report.complete and report.recorded == report.delivered == 8


def test_a_missing_topic_is_never_created_by_the_sdk(
    broker: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Before `topics create`: the SDK says what to run, sends nothing (the broker would
    create the topic with its own defaults), and delivers once the topic exists."""
    from streams.kafka.topicio import end_offsets

    ns = namespace()
    with caplog.at_level("WARNING", logger="agentfold.sdk"):
        rec = Recorder(broker, topic_prefix=ns, retry_s=0.1)
        try:
            agent(rec, "exec-early", 1)
            assert rec.flush(timeout_s=1.5) is False
            assert f"topic {ns}.telemetry does not exist on {broker}" in caplog.text
            assert "agentfold topics create" in caplog.text
            assert caplog.text.count("does not exist") == 1  # said once, not per retry
            assert asyncio.run(end_offsets(broker, f"{ns}.telemetry")) == {}  # not created
            asyncio.run(create_topics(broker, ns, PARTITIONS))
            assert rec.flush(timeout_s=30)
        finally:
            rec.close(timeout_s=1)
    assert rec.delivery_report().complete
    assert len(asyncio.run(end_offsets(broker, f"{ns}.telemetry"))) == PARTITIONS


def test_a_recorder_closed_while_it_connects_leaves_nothing_open(broker: str) -> None:
    """Closed before its producer finished connecting (a short script, an exporter shut
    down at once): the producer is closed too — no "Unclosed AIOKafkaProducer" at exit."""
    import subprocess
    import sys

    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    code = (
        "from streams.sdk import Recorder\n"
        f"for _ in range(5): Recorder({broker!r}, topic_prefix={ns!r}).close()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Unclosed" not in done.stderr and "Task was destroyed" not in done.stderr, done.stderr
