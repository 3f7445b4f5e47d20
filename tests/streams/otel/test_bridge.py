"""OpenTelemetry in, end to end on the real broker: the toy agents' SDK spans (a) through
the in-process exporter into a Recorder, and (b) as OTLP protobuf messages — what the
Collector's Kafka exporter writes — through `agentfold bridge otlp`. Both give the same
telemetry events; the worker folds them into a planned healing action for the tool
loop, exactly as the offline fold does."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace.export import SpanExportResult

from streams.kafka.topicio import read_topic, wait_caught_up
from streams.kafka.topics import create_topics, ensure_topic, list_topics
from streams.otel import AgentfoldSpanExporter
from streams.sdk import Recorder
from tests.streams.livelog import ROOT, Worker, explain, live, namespace, offline, produce_keyed
from tests.streams.otel.toys import batches, fleet

pytestmark = pytest.mark.broker


def _events_by_execution(broker: str, ns: str) -> dict[str, list[bytes]]:
    """Every event of the telemetry topic, per execution, in log order (batches opened)."""
    out: dict[str, list[bytes]] = defaultdict(list)
    for records in asyncio.run(read_topic(broker, f"{ns}.telemetry")).values():
        for r in records:
            for event in orjson.loads(r.value):
                out[event["subject"]].append(orjson.dumps(event, option=orjson.OPT_SORT_KEYS))
    return dict(out)


def test_in_process_and_bridged_spans_give_the_same_events_and_outputs(
    broker: str, tmp_path: Path
) -> None:
    spans = fleet()

    # (a) in process
    ns_a = namespace()
    asyncio.run(create_topics(broker, ns_a, 1))
    exporter = AgentfoldSpanExporter(Recorder(broker, topic_prefix=ns_a), close_recorder=True)
    for batch in batches(spans):
        assert exporter.export(batch) is SpanExportResult.SUCCESS
    assert exporter.force_flush()
    exporter.shutdown()

    # (b) OTLP messages in Kafka, through the bridge
    ns_b = namespace()
    asyncio.run(create_topics(broker, ns_b, 1))
    source = f"{ns_b}-otlp_spans"
    asyncio.run(ensure_topic(broker, source, 1))
    otlp = [(None, encode_spans(batch).SerializeToString()) for batch in batches(spans)]
    produce_keyed(broker, source, [*otlp, (None, b"\x0a\xff not protobuf")])
    group = f"{ns_b}-bridge"
    argv = [sys.executable, "-m", "streams.cli", "bridge", "otlp", "--broker", broker]
    argv += ["--prefix", ns_b, "--from", source, "--group", group, "--no-web"]
    argv += ["--session-timeout", "2", "--heartbeat-interval", "0.3"]
    log = tmp_path / "bridge.log"
    with open(log, "wb") as out:
        bridge = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        asyncio.run(wait_caught_up(broker, group, source, 60, settle_s=0.5))
    finally:
        bridge.send_signal(signal.SIGTERM)
        code = bridge.wait(timeout=20)
    text = log.read_text()
    assert code == 128 + signal.SIGTERM, text
    assert f"agentfold bridge: {len(otlp) + 1} messages, {len(spans)} spans" in text, text

    assert _events_by_execution(broker, ns_a) == _events_by_execution(broker, ns_b)
    letters = [
        orjson.loads(r.value)
        for rs in asyncio.run(read_topic(broker, f"{ns_b}.deadletter")).values()
        for r in rs
    ]
    assert [d["reason"] for d in letters] == ["invalid_otlp"]
    assert letters[0]["origin"]["topic"] == source

    # the worker folds the bridged events as the offline fold does
    worker = Worker(broker, ns_b, tmp_path / "worker.log", partitions=1)
    worker.start()
    worker.finish(timeout_s=90)
    lines = [
        r.value for rs in asyncio.run(read_topic(broker, f"{ns_b}.telemetry")).values() for r in rs
    ]
    got, _ = live(broker, ns_b)
    expected = offline(lines, partitions=1)
    assert got == expected, explain(got, expected)
    planned = [
        orjson.loads(v)["execution_id"]
        for v in got[("healing", 0)]
        if orjson.loads(v)["status"] == "planned"
    ]
    assert planned and set(planned) == {"conv-loop"}


def test_the_bridge_creates_its_source_topic_and_stops_on_request(broker: str) -> None:
    """What the Collector's exporter writes to must exist: the bridge creates it,
    partitioned as the telemetry topic."""
    from aiokafka.admin import AIOKafkaAdminClient

    from streams.otel.bridge import Bridge
    from streams.otel.settings import BridgeSettings

    ns = namespace()
    asyncio.run(create_topics(broker, ns, 3))
    source = f"{ns}-spans"
    settings = BridgeSettings(
        broker=broker, topic_prefix=ns, source_topic=source, group=f"{ns}-b",
        session_timeout_s=2, heartbeat_interval_s=0.3, web_port=0,
    )  # fmt: skip

    async def main() -> dict[str, int]:
        bridge = Bridge(settings)
        stop = asyncio.Event()
        task = asyncio.ensure_future(bridge.run(stop))
        while not bridge.joined:
            await asyncio.sleep(0.05)
        stop.set()
        await task
        admin = AIOKafkaAdminClient(bootstrap_servers=broker)
        await admin.start()
        try:
            described = await admin.describe_topics([source])
        finally:
            await admin.close()
        return {d["topic"]: len(d["partitions"]) for d in described}

    assert asyncio.run(main()) == {source: 3}
    assert f"{ns}.telemetry" in asyncio.run(list_topics(broker, ns))
