"""The executor on the real embedded broker: runs planned actions once, reports each
attempt into the telemetry log as a valid event, skips unknown action types by policy,
and never re-runs an attempt it started — also after a restart, from its ledger."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from schemas.canonical import canonical_json
from schemas.codec import decode_message
from streams.healing.engine import ActionContext
from streams.healing.executor import (
    Executor,
    ExecutorSettings,
    RecentAttempts,
    ledger_record,
    started_attempts,
)
from streams.kafka.topicio import read_topic
from streams.kafka.topics import create_topics, list_topics
from tests.streams.livelog import PARTITIONS, namespace

pytestmark = pytest.mark.broker


# An ack deadline the executor's clock has not reached yet (see the stale-plan test).
LATER = "2099-01-01T00:00:00.000Z"


def plan(
    execution: str,
    action_type: str,
    attempt: int = 1,
    status: str = "planned",
    ack_deadline: str = LATER,
) -> dict:
    return {
        "id": f"heal:{execution}:{attempt}:{status}",
        "execution_id": execution,
        "status": status,
        "reason": "stagnation",
        "idempotency_key": "sheal_" + f"{abs(hash((execution, action_type))):032x}"[:32],
        "tier": "tier_1",
        "action_type": action_type,
        "stagnation_score": 0.9,
        "attempt": attempt,
        "window_start": "2026-11-22T10:00:00.000Z",
        "window_end": "2026-11-22T10:10:00.000Z",
        "planned_at": "2026-11-22T10:10:30.000Z",
        "ack_deadline": ack_deadline,
    }


class Nudge:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        return {"nudged": ctx.execution_id in self.sent}

    def precheck(self, before: dict[str, Any]) -> bool:
        return True

    def send(self, ctx: ActionContext) -> None:
        self.sent.append(ctx.execution_id)

    def is_complete(self, before: dict[str, Any], now: dict[str, Any]) -> bool:
        return bool(now["nudged"])


async def produce(broker: str, topic: str, records: list[dict]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    for r in records:
        await producer.send_and_wait(topic, canonical_json(r), key=r["execution_id"].encode())
    await producer.stop()


def run_until(executor: Executor, done: Any, timeout_s: float = 30) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(executor.run(stop))
        deadline = time.monotonic() + timeout_s
        while not done() and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # anything else it would (wrongly) do
        stop.set()
        await task

    asyncio.run(main())


def attempts(broker: str, ns: str) -> list[dict]:
    out = []
    for records in asyncio.run(read_topic(broker, f"{ns}.telemetry")).values():
        for r in records:
            decoded = decode_message(r.value, r.key)
            assert not decoded.rejected, decoded.rejected
            out += [orjson.loads(r.value)]
    return out


def test_executor_runs_plans_once_and_reports_attempts(broker: str) -> None:
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    nudge = plan("exec-a", "nudge")
    records = [
        nudge,
        plan("exec-b", "teleport"),
        plan("exec-c", "nudge", status="suppressed"),
        nudge,  # redelivered plan: same (idempotency_key, attempt)
    ]
    asyncio.run(produce(broker, f"{ns}.healing", records))
    handler = Nudge()
    settings = ExecutorSettings(
        broker=broker, topic_prefix=ns, group=f"{ns}-ex", poll_s=0.01, timeout_s=2,
        session_timeout_s=2, heartbeat_interval_s=0.3,
    )  # fmt: skip
    first = Executor(settings, {"nudge": handler})
    run_until(first, lambda: first.stats.ran >= 2)
    assert handler.sent == ["exec-a"]
    assert first.stats.by_outcome == {"success": 1, "skipped_by_policy": 1}
    reports = {e["subject"]: e for e in attempts(broker, ns)}
    assert reports["exec-a"]["data"]["outcome"] == "success"
    assert reports["exec-a"]["data"]["idempotency_key"] == nudge["idempotency_key"]
    skipped = reports["exec-b"]["data"]
    assert (
        skipped["outcome"] == "skipped_by_policy" and "teleport" in skipped["extras"]["skip_reason"]
    )

    # A restart that lost its committed offsets (a new group) reads the plans again,
    # but reads back its own reports first: nothing runs twice.
    again = Executor(settings.model_copy(update={"group": f"{ns}-ex2"}), {"nudge": handler})
    run_until(again, lambda: again.stats.planned >= 3)
    assert again.stats.ran == 0 and again.stats.already_done == 3
    assert handler.sent == ["exec-a"] and len(attempts(broker, ns)) == 2


def _settings(broker: str, ns: str) -> ExecutorSettings:
    return ExecutorSettings(
        broker=broker, topic_prefix=ns, group=f"{ns}-ex", poll_s=0.01, timeout_s=2,
        session_timeout_s=2, heartbeat_interval_s=0.3,
    )  # fmt: skip


def test_an_attempt_started_before_a_crash_is_not_run_again(broker: str) -> None:
    """It crashed mid-attempt (no report), and its group's offsets are gone too: the
    ledger alone keeps the attempt from running twice."""
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    crashed, fresh = plan("exec-a", "nudge"), plan("exec-b", "nudge")
    key, value = ledger_record("agentfold-executor", crashed, 1_795_305_600_000)
    other_source = ledger_record("someone-else", fresh, 1_795_305_600_000)

    async def write_ledger() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker)
        await producer.start()
        await producer.send_and_wait(f"{ns}.executor", value, key=key)
        await producer.send_and_wait(f"{ns}.executor", other_source[1], key=other_source[0])
        await producer.stop()

    asyncio.run(write_ledger())
    asyncio.run(produce(broker, f"{ns}.healing", [crashed, fresh]))
    handler = Nudge()
    executor = Executor(_settings(broker, ns), {"nudge": handler})
    run_until(executor, lambda: executor.stats.ran >= 1)
    assert handler.sent == ["exec-b"]  # another source's ledger is not ours
    assert executor.stats.already_done == 1
    ledger = asyncio.run(started_attempts(broker, ns, "agentfold-executor", 10))
    assert len(ledger) == 2  # exec-b's start is in the ledger now


def test_a_plan_past_its_ack_deadline_is_reported_stale_not_run(broker: str) -> None:
    """Replaying an old log into a live executor must not fire old actions: the fold
    stopped waiting for them at their ack deadline."""
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    old = plan("exec-old", "nudge", ack_deadline="2026-11-22T10:20:30.000Z")
    asyncio.run(produce(broker, f"{ns}.healing", [old, plan("exec-new", "nudge")]))
    handler = Nudge()
    executor = Executor(_settings(broker, ns), {"nudge": handler})
    run_until(executor, lambda: executor.stats.ran >= 2)
    assert handler.sent == ["exec-new"]
    reports = {e["subject"]: e["data"] for e in attempts(broker, ns)}
    assert reports["exec-old"]["outcome"] == "skipped_by_policy"
    assert reports["exec-old"]["extras"]["skip_reason"].startswith("stale_plan")
    assert reports["exec-new"]["outcome"] == "success"


def test_the_ledger_topic_is_created_for_an_older_deployment(broker: str) -> None:
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS, only={"healing", "telemetry"}))
    assert f"{ns}.executor" not in asyncio.run(list_topics(broker, ns))
    assert len(asyncio.run(started_attempts(broker, ns, "agentfold-executor", 10))) == 0
    assert asyncio.run(list_topics(broker, ns))[f"{ns}.executor"] == PARTITIONS


def test_recent_attempts_forget_the_oldest_beyond_their_cap() -> None:
    recent = RecentAttempts(2)
    for n in range(1, 4):
        recent.add(("sheal_x", n))
    assert ("sheal_x", 1) not in recent and ("sheal_x", 3) in recent and len(recent) == 2


def test_an_attempt_reported_by_anyone_is_not_run_again(broker: str) -> None:
    """Reading behind, the executor looks ahead to the end of the partition first: a
    plan that a `reported` record further on closes (the fold writes one for every
    report, whoever sent it — here an agent's own handler) is not run; more than one
    fetch away too."""
    ns = namespace()
    asyncio.run(create_topics(broker, ns, 1))
    handled_elsewhere, fresh = plan("exec-a", "nudge"), plan("exec-b", "nudge")
    noise = [plan(f"exec-n{i}", "nudge", status="suppressed") for i in range(250)]
    closed = {**handled_elsewhere, "status": "reported", "id": "heal:a:reported"}
    records = [handled_elsewhere, fresh, *noise, closed]
    asyncio.run(produce(broker, f"{ns}.healing", records))
    handler = Nudge()
    executor = Executor(_settings(broker, ns), {"nudge": handler})
    run_until(executor, lambda: executor.stats.ran >= 1 and executor.stats.idle)
    assert handler.sent == ["exec-b"]
    assert executor.stats.already_done == 1 and executor.stats.planned == 2
    assert [e["subject"] for e in attempts(broker, ns)] == ["exec-b"]


def test_at_the_head_of_the_log_a_plan_runs_at_once(broker: str) -> None:
    """Nothing to look ahead to: the plan is run as soon as it is read."""
    ns = namespace()
    asyncio.run(create_topics(broker, ns, 1))
    handler = Nudge()
    executor = Executor(_settings(broker, ns), {"nudge": handler})

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(executor.run(stop))
        while not executor.stats.joined:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # polling at the end of the partition
        await produce(broker, f"{ns}.healing", [plan("exec-c", "nudge")])
        deadline = time.monotonic() + 30  # (held for a lookahead, it would never run)
        while not handler.sent and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(main())
    assert handler.sent == ["exec-c"]
