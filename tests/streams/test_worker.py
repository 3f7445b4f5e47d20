"""The live worker on the real embedded broker: live == offline, bad input, crashes."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest

from processors.config import FoldConfig
from schemas.outputs import OUTPUT_TOPICS
from streams.offline import OfflineFold
from streams.topicio import produce_lines, read_topic, wait_caught_up
from streams.topics import create_topics
from streams.worker import worker_argv

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "examples" / "fleet.jsonl"
PARTITIONS = 4
pytestmark = pytest.mark.broker


class Worker:
    """`agentfold worker` as a real subprocess, with the embedded broker's short timeouts."""

    def __init__(self, broker: str, ns: str, log: Path, tick: float = 0) -> None:
        self.cmd = worker_argv(broker, ns, PARTITIONS, tick_interval_s=tick)
        self.broker = broker
        self.ns = ns
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(timeout=30)

    def finish(self, timeout_s: float) -> None:
        """Wait until the group has committed all input, then stop cleanly."""
        try:
            asyncio.run(
                wait_caught_up(self.broker, self.ns, f"{self.ns}.telemetry", timeout_s, settle_s=1)
            )
        finally:
            assert self.stop() == 0, self.log.read_text()[-3000:]


def lines_of(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def offline(lines: list[bytes]) -> dict[tuple[str, int], list[bytes]]:
    out: dict[tuple[str, int], list[bytes]] = {}
    for e in OfflineFold(FoldConfig(), PARTITIONS).feed_lines(lines):
        if e.record.topic != "deadletter":
            out.setdefault((e.record.topic, e.partition), []).append(
                orjson.dumps(e.record.value, option=orjson.OPT_SORT_KEYS)
            )
    return out


def live(broker: str, ns: str) -> tuple[dict[tuple[str, int], list[bytes]], int]:
    """Every output record, de-duplicated on its derived id; and how many were duplicates."""
    out: dict[tuple[str, int], list[bytes]] = {}
    dups = 0
    for topic in OUTPUT_TOPICS:
        if topic == "deadletter":
            continue
        parts = asyncio.run(read_topic(broker, f"{ns}.{topic}"))
        for p, records in parts.items():
            seen: set[str] = set()
            for r in records:
                rid = orjson.loads(r.value)["id"]
                if rid in seen:
                    dups += 1
                    continue
                seen.add(rid)
                out.setdefault((topic, p), []).append(r.value)
    return out, dups


def dead_letter_reasons(broker: str, ns: str) -> Counter[str]:
    parts = asyncio.run(read_topic(broker, f"{ns}.deadletter"))
    return Counter(orjson.loads(r.value)["reason"] for rs in parts.values() for r in rs)


def namespace() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def test_live_worker_equals_offline_fold_of_the_fleet(broker: str, tmp_path: Path) -> None:
    ns = namespace()
    lines = lines_of(FLEET)
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", lines, PARTITIONS))
    worker = Worker(broker, ns, tmp_path / "worker.log")
    worker.start()
    worker.finish(timeout_s=90)
    got, dups = live(broker, ns)
    assert dups == 0
    assert got == offline(lines)
    assert dead_letter_reasons(broker, ns) == Counter(
        {"invalid_json": 2, "schema_violation": 1, "unknown_type": 1}
    )


def test_sigkill_restarts_lose_nothing_and_duplicate_nothing(broker: str, tmp_path: Path) -> None:
    """SIGKILL the worker at seeded points mid-stream, restart it each time: the
    de-duplicated outputs equal the offline fold — no event lost, no extra planned
    healing action, no duplicate attribution chain."""
    from streams.synthetic import batched, generate

    ns = namespace()
    rng = random.Random(20261122)
    lines = lines_of(FLEET) + batched(generate(12_000, 300, seed=11), 20)
    half = len(lines) // 2
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", lines[:half], PARTITIONS))
    worker = Worker(broker, ns, tmp_path / "worker.log")
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
    got, dups = live(broker, ns)
    expected = offline(lines)
    assert kills >= 5
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == expected[key], key
    planned = sum(b'"status":"planned"' in v for vs in got.values() for v in vs)
    assert planned == sum(b'"status":"planned"' in v for vs in expected.values() for v in vs)
    print(f"crash test: {kills} kills, {dups} re-sent outputs removed by id")


def test_bad_input_is_dead_lettered_and_valid_neighbours_processed(
    broker: str, tmp_path: Path
) -> None:
    import base64

    from aiokafka import AIOKafkaProducer

    ns = namespace()
    topic = f"{ns}.telemetry"

    def event(i: int, subject: str = "exec-ok", **over: object) -> dict:
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

    bad: list[tuple[bytes | None, bytes, str]] = [
        (b"exec-ok", b"\xff\xfe\x00 garbage", "invalid_json"),
        (b"exec-ok", b'{"type": "agentfold.run_started",', "invalid_json"),
        (b"exec-ok", orjson.dumps(event(90, type="agentfold.telepathy")), "unknown_type"),
        (b"exec-ok", orjson.dumps(event(91, time="yesterday")), "schema_violation"),
        (b"someone-else", orjson.dumps(event(92)), "key_mismatch"),
        (None, orjson.dumps(event(93)), "key_mismatch"),
        (b"exec-ok", b'{"pad": "' + b"x" * (1024 * 1024 + 10) + b'"}', "oversize"),
    ]
    good_batch = orjson.dumps(
        [
            event(1),
            {**event(2, type="agentfold.metric"), "data": {"name": "x"}},  # invalid
            {**event(3, type="agentfold.run_ended"), "data": {"success": True}},
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
    worker = Worker(broker, ns, tmp_path / "worker.log")
    worker.start()
    worker.finish(timeout_s=90)
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
