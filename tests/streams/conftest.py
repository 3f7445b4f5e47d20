"""Live namespaces, each processed once per session by a real worker subprocess and
then checked by several test modules (worker behaviour, replay, verify)."""

from __future__ import annotations

import asyncio
import random

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from streams.kafka.topicio import produce_lines
from streams.kafka.topics import create_topics
from streams.testing import batched, generate
from tests.streams.livelog import FLEET, PARTITIONS, LiveLog, Worker, lines_of, namespace


@pytest.fixture(scope="session")
def fleet_ns(broker: str, tmp_path_factory: pytest.TempPathFactory) -> LiveLog:
    """The example fleet, produced and then folded by one worker run."""
    ns = namespace()
    lines = lines_of(FLEET)
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", lines, PARTITIONS))
    worker = Worker(broker, ns, tmp_path_factory.mktemp("fleet") / "worker.log")
    worker.start()
    worker.finish(timeout_s=90)
    return LiveLog(ns, lines, log=worker.log)


@pytest.fixture(scope="session")
def crashed_ns(broker: str, tmp_path_factory: pytest.TempPathFactory) -> LiveLog:
    """The fleet plus 12k synthetic events, folded by a worker SIGKILLed at seeded points
    (six times, half the log arriving while it runs) and restarted each time."""
    ns = namespace()
    rng = random.Random(20261122)
    lines = lines_of(FLEET) + batched(generate(12_000, 300, seed=11), 20)
    half = len(lines) // 2
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", lines[:half], PARTITIONS))
    worker = Worker(broker, ns, tmp_path_factory.mktemp("crash") / "worker.log")
    kills = 0
    for round_ in range(6):
        worker.start()
        if round_ == 2:  # the rest of the log arrives while the worker runs
            asyncio.run(produce_lines(broker, f"{ns}.telemetry", lines[half:], PARTITIONS))
        asyncio.run(asyncio.sleep(rng.uniform(2.5, 5.0)))  # startup, rejoin, some progress
        worker.kill()
        kills += 1
    worker.start()
    worker.finish(timeout_s=240)
    return LiveLog(ns, lines, kills=kills)


def _event(i: int, subject: str = "exec-ok", **over: object) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": f"e{i}",
        "source": "a",
        "subject": subject,
        "type": "agentfold.run_started",
        "time": "2026-11-22T10:00:00Z",
        "seq": i,
        "data": {"goal_id": "g"},
        **over,
    }


@pytest.fixture(scope="session")
def bad_input_ns(broker: str, tmp_path_factory: pytest.TempPathFactory) -> LiveLog:
    """One message per dead-letter reason, then a batch with one invalid element."""
    ns = namespace()
    topic = f"{ns}.telemetry"
    bad: list[tuple[bytes | None, bytes, str]] = [
        (b"exec-ok", b"\xff\xfe\x00 garbage", "invalid_json"),
        (b"exec-ok", b'{"type": "agentfold.run_started",', "invalid_json"),
        (b"exec-ok", orjson.dumps(_event(90, type="agentfold.telepathy")), "unknown_type"),
        (b"exec-ok", orjson.dumps(_event(91, time="yesterday")), "schema_violation"),
        (b"someone-else", orjson.dumps(_event(92)), "key_mismatch"),
        (None, orjson.dumps(_event(93)), "key_mismatch"),
        (b"exec-ok", b'{"pad": "' + b"x" * (1024 * 1024 + 10) + b'"}', "oversize"),
    ]
    good_batch = orjson.dumps(
        [
            _event(1),
            {**_event(2, type="agentfold.metric"), "data": {"name": "x"}},  # invalid
            {**_event(3, type="agentfold.run_ended"), "data": {"success": True}},
        ]
    )

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker, max_request_size=4 << 20)
        await producer.start()
        for key, value, _ in bad:
            await producer.send_and_wait(topic, value, key=key)
        await producer.send_and_wait(topic, good_batch, key=b"exec-ok")
        await producer.stop()

    asyncio.run(create_topics(broker, ns, PARTITIONS))
    asyncio.run(produce())
    worker = Worker(broker, ns, tmp_path_factory.mktemp("bad") / "worker.log")
    worker.start()
    worker.finish(timeout_s=90)
    return LiveLog(ns, bad=bad)
