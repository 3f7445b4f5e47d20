"""Helpers for broker-backed tests: a worker subprocess, the offline expectation, and
reading what the worker emitted."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from processors.config import FoldConfig
from schemas.canonical import canonical_json
from schemas.outputs import GOAL_FACTS, GOALS, OUTPUT_TOPICS
from streams.folding.goalfacts import unpack
from streams.folding.offline import OfflineFold
from streams.kafka.topicio import end_offsets, read_topic, wait_caught_up
from streams.worker.run import worker_argv

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "examples" / "fleet.jsonl"
PARTITIONS = 4
Outputs = dict[tuple[str, int], list[bytes]]


@dataclass
class LiveLog:
    """A namespace a worker has processed, and what was put into it."""

    ns: str
    lines: list[bytes] = field(default_factory=list)
    kills: int = 0
    bad: list[tuple[bytes | None, bytes, str]] = field(default_factory=list)
    log: Path | None = None  # the worker's output


class Worker:
    """`agentfold worker` as a real subprocess, with the embedded broker's short timeouts."""

    def __init__(
        self,
        broker: str,
        ns: str,
        log: Path,
        tick: float = 0,
        flags: Sequence[str] = (),
        partitions: int = PARTITIONS,
    ) -> None:
        self.cmd = worker_argv(broker, ns, partitions, tick_interval_s=tick) + list(flags)
        self.broker = broker
        self.ns = ns
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # From a directory outside the repository, as an installed worker runs.
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.cmd, cwd=self.log.parent, stdout=out, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(timeout=30)

    def finish(self, timeout_s: float) -> None:
        """Wait until the group has committed all input and the goal stage has read all
        goal facts, then stop cleanly."""
        try:
            asyncio.run(
                wait_caught_up(self.broker, self.ns, f"{self.ns}.telemetry", timeout_s, settle_s=1)
            )
            wait_goal_stage(self.broker, self.ns, timeout_s)
        finally:
            # A clean stop on SIGTERM exits 143, as shells expect (anything else: it failed)
            assert self.stop() == 128 + signal.SIGTERM, self.log.read_text()[-3000:]


def goal_stage_positions(broker: str, ns: str) -> dict[int, int]:
    """Per goalfacts partition, where the goal stage's last flush stands (its changelog
    position records, b"n:<partition>")."""
    positions: dict[int, int] = {}
    for records in asyncio.run(read_topic(broker, f"{ns}-state-changelog")).values():
        for r in records:
            if r.key is not None and r.key.startswith(b"n:") and r.value:
                positions[int(r.key[2:])] = int(orjson.loads(r.value)["next_offset"])
    return positions


def wait_goal_stage(broker: str, ns: str, timeout_s: float) -> None:
    """Until the goal stage has flushed its position at the end of every goalfacts
    partition."""
    deadline = time.monotonic() + timeout_s
    while True:
        ends = asyncio.run(end_offsets(broker, f"{ns}.{GOAL_FACTS}"))
        at = goal_stage_positions(broker, ns)
        behind = {p: (at.get(p, 0), end) for p, end in ends.items() if at.get(p, 0) < end}
        if not behind:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the goal stage is behind: (position, end) {behind}")
        time.sleep(0.25)


def lines_of(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def offline(
    lines: list[bytes], cfg: FoldConfig | None = None, partitions: int = PARTITIONS
) -> Outputs:
    out: Outputs = {}
    for e in OfflineFold(cfg or FoldConfig(), partitions).feed_lines(lines):
        if e.record.topic != "deadletter":
            out.setdefault((e.record.topic, e.partition), []).append(
                orjson.dumps(e.record.value, option=orjson.OPT_SORT_KEYS)
            )
    return out


def live(broker: str, ns: str, with_dead_letters: bool = False) -> tuple[Outputs, int]:
    """Every record the fold wrote, de-duplicated on its derived id, by (topic, the
    partition of the fold that wrote it — for goal facts not the one they are in); and
    how many were duplicates."""
    out: Outputs = {}
    dups = 0
    for topic in OUTPUT_TOPICS:
        if topic == "deadletter" and not with_dead_letters:
            continue
        parts = asyncio.run(read_topic(broker, f"{ns}.{topic}"))
        seen: set[tuple[int, str]] = set()
        for p, records in parts.items():
            for r in records:
                # a goalfacts message holds one goal's facts of one fetch
                values = unpack(r.value) if topic == GOAL_FACTS else [orjson.loads(r.value)]
                for value in values:
                    source = int(value["partition"]) if topic == GOAL_FACTS else p
                    if (source, value["id"]) in seen:
                        dups += 1
                        continue
                    seen.add((source, value["id"]))
                    raw = canonical_json(value) if topic == GOAL_FACTS else r.value
                    out.setdefault((topic, source), []).append(raw)
    for (topic, _), values in out.items():
        if topic == GOAL_FACTS:  # the fold's order: its facts are spread over partitions
            values.sort(key=lambda v: int(orjson.loads(v)["seq"]))
    return out, dups


def live_goals(broker: str, ns: str) -> dict[str, bytes]:
    """The goal stage's latest record of each goal, as the compacted topic keeps it."""
    parts = asyncio.run(read_topic(broker, f"{ns}.{GOALS}"))
    return {
        r.key.decode(): r.value for records in parts.values() for r in records if r.key is not None
    }


def dead_letter_reasons(broker: str, ns: str) -> Counter[str]:
    parts = asyncio.run(read_topic(broker, f"{ns}.deadletter"))
    return Counter(orjson.loads(r.value)["reason"] for rs in parts.values() for r in rs)


def produce_keyed(broker: str, topic: str, messages: Sequence[tuple[bytes | None, bytes]]) -> None:
    """Produce (key, value) messages in order; an unkeyed one goes to partition 0."""

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker, max_request_size=4 << 20)
        await producer.start()
        try:
            for key, value in messages:
                await producer.send(topic, value, key=key, partition=None if key else 0)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(produce())


def namespace() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def explain(got: Outputs, expected: Outputs) -> str:
    """Where two output sets differ, compactly: a failure in a broker-backed test is
    often a rare interleaving, and pytest's truncated dict diff hides which one."""
    lines = []
    for slot in sorted(got.keys() | expected.keys()):
        a, b = got.get(slot, []), expected.get(slot, [])
        if a == b:
            continue
        same = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        where = "one is a prefix of the other" if same is None else f"first difference at {same}"
        ids_a = [orjson.loads(x).get("id") for x in a]
        ids_b = [orjson.loads(x).get("id") for x in b]
        missing = [i for i in ids_b if i not in set(ids_a)]
        extra = [i for i in ids_a if i not in set(ids_b)]
        lines.append(
            f"{slot}: {len(a)} records vs {len(b)} expected; {where}; "
            f"{len(missing)} ids missing {missing[:3]}, {len(extra)} unexpected {extra[:3]}"
        )
        if same is not None:
            lines.append(f"    got      {a[same][:300]!r}")
            lines.append(f"    expected {b[same][:300]!r}")
        elif len(a) != len(b):
            extra = (a if len(a) > len(b) else b)[min(len(a), len(b))]
            lines.append(f"    first extra {extra[:300]!r}")
    return "\n".join(lines[:40])
