"""A live worker's /metrics, scraped over HTTP and parsed with prometheus-client's own
parser; its probes. The counts are checked against what was produced."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.codec import decode_message
from schemas.records import KIND_OF
from streams.folding.goalfacts import unpack
from streams.kafka.broker import free_port
from streams.kafka.topicio import end_offsets, produce_lines, read_topic, wait_caught_up
from streams.kafka.topics import create_topics
from streams.worker.run import worker_argv
from tests.streams.livelog import FLEET, PARTITIONS, Worker, lines_of, namespace

pytestmark = pytest.mark.broker


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_live_worker_exposes_its_counters_lag_and_probes(broker: str, tmp_path: Path) -> None:
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    lines = lines_of(FLEET)
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", lines, PARTITIONS))
    port = free_port()
    worker = Worker(broker, ns, tmp_path / "worker.log")
    worker.cmd = worker_argv(broker, ns, PARTITIONS, web_port=port)
    worker.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # up once the app has started
            try:
                status, _ = get(f"{base}/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, worker.log.read_text()
                time.sleep(0.2)
        assert status == 200
        asyncio.run(wait_caught_up(broker, ns, f"{ns}.telemetry", 90, settle_s=1))
        assert get(f"{base}/readyz") == (200, "ready\n")
        facts = asyncio.run(read_topic(broker, f"{ns}.goalfacts"))
        facts_end = sum(len(unpack(r.value)) for records in facts.values() for r in records)
        # The goal stage reads the goal facts the fold wrote, and a flush is written on
        # the flush timer: both may trail the commit that said "caught up".
        settled = time.monotonic() + 60
        while True:
            status, text = get(f"{base}/metrics")
            assert status == 200
            seen = samples(text)
            read = seen.get(("agentfold_goal_facts_applied_total", ()), 0) + seen.get(
                ("agentfold_goal_facts_skipped_total", ()), 0
            )
            flushed = seen.get(("agentfold_flush_duration_seconds_count", ()), 0)
            if (read == facts_end and flushed) or time.monotonic() > settled:
                break
            time.sleep(0.2)
    finally:
        worker.stop()
    got = samples(text)
    ends = asyncio.run(end_offsets(broker, f"{ns}.telemetry"))
    assert got[("agentfold_messages_total", ())] == sum(ends.values())
    kinds: Counter[str] = Counter()  # the valid events in the topic, by kind
    for records in asyncio.run(read_topic(broker, f"{ns}.telemetry")).values():
        for r in records:
            kinds.update(KIND_OF[type(e)] for e in decode_message(r.value, r.key).events)
    assert len(kinds) >= 8
    exposed = {
        dict(labels)["kind"]: value
        for (name, labels), value in got.items()
        if name == "agentfold_events_total"
    }
    assert exposed == kinds
    reasons = Counter({"invalid_json": 2, "schema_violation": 1, "unknown_type": 1})
    for reason, n in reasons.items():
        assert got[("agentfold_deadletters_total", (("reason", reason),))] == n
    for p in range(PARTITIONS):
        label = (("partition", str(p)),)
        assert got[("agentfold_next_offset", label)] == ends[p]
        assert got[("agentfold_consumer_lag_messages", label)] == 0
        assert got[("agentfold_stream_time_lag_seconds", label)] > 0  # the fleet is old
    assert got[("agentfold_outputs_total", (("topic", "runs"),))] > 0
    assert got[("agentfold_flush_duration_seconds_count", ())] >= 1
    assert any(name == "agentfold_actions_closed_total" for name, _ in got)
    assert "metrics on http://" in worker.log.read_text()
    # the goal stage: the fleet's one defined goal (fix-build), every fact read
    assert facts_end > sum(len(records) for records in facts.values())  # batched per goal
    assert facts_end > 0 and got[("agentfold_goal_facts_applied_total", ())] > 0
    goals = {dict(lb)["partition"]: v for (n, lb), v in got.items() if n == "agentfold_goals"}
    assert sorted(goals.values()) == [0.0] * (len(goals) - 1) + [1.0]
    stage_lag = [v for (n, _), v in got.items() if n == "agentfold_goal_stage_lag_messages"]
    assert len(stage_lag) == PARTITIONS and not any(stage_lag)


def test_the_executor_exposes_its_attempts(broker: str, tmp_path: Path) -> None:
    """`agentfold executor` with its web port: attempts by action type and outcome."""
    import os
    import signal
    import subprocess
    import sys

    from tests.streams.healing.test_executor import plan, produce

    EXECUTOR = [sys.executable, "-m", "streams.cli", "executor"]

    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    plans = [plan(f"exec-{i}", "nudge") for i in range(3)] + [plan("exec-9", "escalate")]
    asyncio.run(produce(broker, f"{ns}.healing", plans))
    port = free_port()
    log = tmp_path / "executor.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*EXECUTOR, "--broker", broker, "--prefix", ns, "--group", ns, "--web-port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        total = 0.0
        while total < 4:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
            try:
                _, text = get(f"{base}/metrics")
            except OSError:
                continue
            got = samples(text)
            total = sum(v for (n, _), v in got.items() if n == "agentfold_executor_attempts_total")
        assert get(f"{base}/readyz") == (200, "ready\n")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) == 143
    nudge = (("action_type", "nudge"), ("outcome", "success"))
    assert got[("agentfold_executor_attempts_total", nudge)] == 3
    assert got[("agentfold_executor_planned_total", ())] == 4
    assert got[("agentfold_executor_in_flight", ())] == 0
