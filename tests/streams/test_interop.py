"""Non-SDK peers: a second, independent Kafka client (kafka-python, not aiokafka)
produces events shaped only by the published JSON Schemas, and consumes the healing
actions the worker plans — on the real embedded broker."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streams.cli import main
from streams.kafka.topics import create_topics
from tests.streams.livelog import FLEET, PARTITIONS, Worker, lines_of, namespace, offline

pytestmark = pytest.mark.broker


def published_schemas(tmp: Path) -> dict[str, dict[str, object]]:
    assert main(["schema", "--out", str(tmp)]) == 0
    return {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in tmp.iterdir()}


def test_kafka_python_produces_events_and_consumes_healing_actions(
    broker: str, tmp_path: Path
) -> None:
    import asyncio

    schemas = published_schemas(tmp_path / "schemas")
    sent: list[bytes] = []
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    for line in lines_of(FLEET):
        try:
            doc = json.loads(line)
        except ValueError:
            continue  # the fleet's deliberately broken lines
        events = doc if isinstance(doc, list) else [doc]  # a batch: one execution's events
        try:
            for event in events:
                jsonschema.validate(event, schemas[event["type"]])
        except (jsonschema.ValidationError, KeyError, TypeError):
            continue
        payload = json.dumps(doc).encode()  # stdlib JSON: no agentfold code on this side
        if events[0]["type"] in ("agentfold.tick", "agentfold.goal_defined"):
            for p in range(PARTITIONS):
                producer.send(f"{ns}.telemetry", payload, partition=p)
        else:
            producer.send(f"{ns}.telemetry", payload, key=events[0]["subject"].encode())
        sent.append(line)
    producer.flush()
    producer.close()
    assert len(sent) >= 220  # all but the fleet's few deliberately bad lines

    worker = Worker(broker, ns, tmp_path / "worker.log")
    worker.start()
    worker.finish(timeout_s=90)

    consumer = KafkaConsumer(
        bootstrap_servers=broker, enable_auto_commit=False, consumer_timeout_ms=3000
    )
    tps = [TopicPartition(f"{ns}.healing", p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    got: dict[int, list[bytes]] = {}
    for message in consumer:
        jsonschema.validate(json.loads(message.value), schemas["agentfold.healing.record"])
        got.setdefault(message.partition, []).append(message.value)
    consumer.close()

    expected = {p: vs for (topic, p), vs in offline(sent).items() if topic == "healing"}
    assert got == expected
    planned = [orjson.loads(v) for vs in got.values() for v in vs]
    assert any(h["status"] == "planned" for h in planned)
