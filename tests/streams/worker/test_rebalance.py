"""Several workers in one consumer group, on a log that arrives while partitions move
between live processes: workers join, one is SIGKILLed, one stops cleanly, one is
frozen (SIGSTOP) past its session timeout and then resumed. After each scenario the
outputs, de-duplicated by id, equal the offline fold of the log; no healing attempt is
planned with two different contents; `replay --verify` exits 0. (A frozen worker that
wakes finds its partitions gone: the flush it had begun belongs to an older epoch and
never counts — docs/guarantees.md.)"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from streams.cli import main
from streams.kafka.topicio import committed_offsets, produce_lines, read_topic, wait_caught_up
from streams.kafka.topics import create_topics
from streams.testing import batched, generate
from tests.streams.livelog import (
    FLEET,
    Worker,
    explain,
    lines_of,
    live,
    namespace,
    offline,
    wait_goal_stage,
)

pytestmark = pytest.mark.broker

PARTS = 6
CHUNKS = 24  # the log arrives in this many parts …
CHUNK_PAUSE_S = 0.8  # … this far apart, while the group changes


class Group:
    """A namespace, its log arriving in the background, and the workers of one group."""

    def __init__(self, broker: str, tmp_path: Path, seed: int) -> None:
        self.broker = broker
        self.ns = namespace()
        self.tmp_path = tmp_path
        self.lines = lines_of(FLEET) + batched(generate(9_000, 200, seed=seed), 12)
        self.workers: list[Worker] = []
        asyncio.run(create_topics(broker, self.ns, PARTS))
        self._feeder = threading.Thread(target=self._feed, daemon=True)
        self.fed = threading.Event()

    def _feed(self) -> None:
        size = -(-len(self.lines) // CHUNKS)
        for i in range(0, len(self.lines), size):
            asyncio.run(
                produce_lines(self.broker, f"{self.ns}.telemetry", self.lines[i : i + size], PARTS)
            )
            time.sleep(CHUNK_PAUSE_S)
        self.fed.set()

    def start_feeding(self) -> None:
        self._feeder.start()

    def worker(self) -> Worker:
        w = Worker(
            self.broker,
            self.ns,
            self.tmp_path / f"worker-{len(self.workers)}.log",
            partitions=PARTS,
        )
        w.start()
        self.workers.append(w)
        return w

    def progressed(self, timeout_s: float = 60) -> None:
        """Until the group has committed something (it owns partitions and folds)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = asyncio.run(
                committed_offsets(self.broker, self.ns, f"{self.ns}.telemetry", list(range(PARTS)))
            )
            if sum(done.values()) > 0:
                return
            time.sleep(0.2)
        raise AssertionError("the group committed nothing:\n" + self.logs())

    def finish(self, timeout_s: float = 180) -> None:
        """All the log fed and committed; every live worker stops cleanly (exit 143)."""
        assert self.fed.wait(timeout_s), "the log was not fed"
        try:
            asyncio.run(
                wait_caught_up(
                    self.broker, self.ns, f"{self.ns}.telemetry", timeout_s, settle_s=1.5
                )
            )
            wait_goal_stage(self.broker, self.ns, timeout_s)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None
        finally:
            codes = [w.stop() for w in self.workers if w.proc and w.proc.poll() is None]
        assert all(code == 128 + signal.SIGTERM for code in codes), (codes, self.logs())

    def logs(self) -> str:
        return "\n".join(
            f"--- {w.log.name}\n" + w.log.read_text(errors="replace")[-1500:] for w in self.workers
        )

    def check(self) -> None:
        got, dups = live(self.broker, self.ns)
        expected = offline(self.lines, partitions=PARTS)
        assert got == expected, explain(got, expected)
        # A log that exercises the whole fold: runs, windows, plans, attribution chains.
        assert {topic for topic, _ in expected} >= {"runs", "stagnation", "healing", "attribution"}
        # An attempt is planned once: re-sent records are byte-identical copies.
        contents: dict[tuple[str, int], set[bytes]] = defaultdict(set)
        for records in asyncio.run(read_topic(self.broker, f"{self.ns}.healing")).values():
            for r in records:
                value = orjson.loads(r.value)
                if value["status"] == "planned":
                    contents[(value["idempotency_key"], value["attempt"])].add(r.value)
        assert contents and all(len(c) == 1 for c in contents.values())
        args = ["replay", "--broker", self.broker, "--prefix", self.ns, "--verify", "-q"]
        assert main(args) == 0
        print(f"{self.ns}: {len(self.workers)} workers, {dups} re-sent outputs removed by id")


@pytest.fixture
def group(broker: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Group]:
    g = Group(broker, tmp_path, seed=sum(map(ord, request.node.name)))
    try:
        yield g
    finally:
        for w in g.workers:
            if w.proc is not None and w.proc.poll() is None:
                w.proc.send_signal(signal.SIGCONT)
                w.proc.kill()
                w.proc.wait(timeout=10)


def _pause(seconds: float) -> None:
    time.sleep(seconds)


def _scenario(group: Group, *steps: Callable[[Group], None]) -> None:
    group.worker()
    group.start_feeding()
    group.progressed()
    for step in steps:
        # Mid-stream, or the scenario proves nothing about partitions moving under load.
        assert not group.fed.is_set(), "the whole log arrived before this step"
        step(group)
    group.finish()
    group.check()


def test_workers_joining_mid_stream(group: Group) -> None:
    def join(g: Group) -> None:
        g.worker()
        _pause(2.5)

    _scenario(group, join, join)


def test_a_worker_sigkilled_mid_stream(group: Group) -> None:
    def join(g: Group) -> None:
        g.worker()
        _pause(3.0)

    def kill(g: Group) -> None:
        g.workers[1].kill()
        _pause(1.0)

    _scenario(group, join, kill)


def test_a_worker_stopping_cleanly_mid_stream(group: Group) -> None:
    def join(g: Group) -> None:
        g.worker()
        _pause(3.0)

    def stop(g: Group) -> None:
        assert g.workers[0].stop() == 128 + signal.SIGTERM, g.logs()
        _pause(1.0)

    _scenario(group, join, stop)


def test_a_worker_frozen_past_its_session_and_resumed(group: Group) -> None:
    """SIGSTOP past the session timeout (2 s here): the group moves its partitions to
    the other worker; resumed, it must not write state or outputs for them."""

    def join(g: Group) -> None:
        g.worker()
        _pause(3.0)

    def freeze_and_resume(g: Group) -> None:
        frozen = g.workers[1].proc
        assert frozen is not None
        frozen.send_signal(signal.SIGSTOP)
        _pause(6.0)  # session timeout, rebalance, the other worker folds on
        frozen.send_signal(signal.SIGCONT)
        _pause(2.0)

    _scenario(group, join, freeze_and_resume)
