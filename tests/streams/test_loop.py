"""The whole loop on the real broker, through `agentfold demo --broker`: agents publish
with the SDK, the worker folds, the executor carries out the plans and reports back
into the log, and the healer folds the reports.

The story checked for the stagnating agent: a window closes stagnant → a `planned`
action → the executor runs the handler (the agent acknowledges) → a `healing_attempt`
event in the telemetry log → the healer's history (the worker's changelog) holds it as
a success → the next stagnant window brings the same plan back `suppressed` with
`duplicate_action`. The demo's ack timeout is shorter than a window, so an unreported
plan would have expired by then (and come back `action_cooldown_active`): the duplicate
is the reported success, not an action still in flight.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from processors.config import FoldConfig
from schemas.codec import decode_message
from schemas.records import to_model
from streams.demo.run import demo_fold_config
from streams.folding.changelog import EXEC_PREFIX, decode_exec
from streams.kafka.topicio import Record, read_topic
from tests.streams.livelog import PARTITIONS, ROOT, live, namespace, offline

pytestmark = pytest.mark.broker

WINDOW_S = 8  # the silent agent then has time for a retry before inactivity ends its run


@dataclass
class DemoRun:
    ns: str
    cfg: FoldConfig
    output: str
    returncode: int
    elapsed_s: float


@pytest.fixture(scope="module")
def demo_run(broker: str) -> DemoRun:
    ns = namespace()
    started = time.monotonic()
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "streams.cli", "demo", "--broker", broker, "--prefix", ns),
            *("--window", str(WINDOW_S), "--partitions", str(PARTITIONS), "--no-colour"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    return DemoRun(
        ns,
        demo_fold_config(WINDOW_S),
        proc.stdout + proc.stderr,
        proc.returncode,
        time.monotonic() - started,
    )


def values(broker: str, topic: str) -> list[dict[str, Any]]:
    parts = asyncio.run(read_topic(broker, topic))
    return [orjson.loads(r.value) for p in sorted(parts) for r in parts[p]]


def records(broker: str, topic: str) -> list[Record]:
    parts = asyncio.run(read_topic(broker, topic))
    return [r for p in sorted(parts) for r in parts[p]]


def healing(broker: str, ns: str, execution: str) -> list[dict[str, Any]]:
    return [v for v in values(broker, f"{ns}.healing") if v["execution_id"] == execution]


def attempts(broker: str, ns: str, execution: str) -> list[dict[str, Any]]:
    """healing_attempt events about `execution` in the telemetry log, decoded strictly."""
    found = []
    for r in records(broker, f"{ns}.telemetry"):
        if b"agentfold.healing_attempt" not in r.value:
            continue
        decoded = decode_message(r.value, r.key)
        assert not decoded.rejected, decoded.rejected
        for event in decoded.events:
            if event.subject == execution:
                found.append(to_model(event).model_dump(mode="json"))
    return found


def test_the_demo_finishes_and_its_live_outputs_equal_the_offline_fold(
    demo_run: DemoRun,
) -> None:
    assert demo_run.returncode == 0, demo_run.output[-4000:]
    assert "✓ offline fold of" in demo_run.output


def test_stagnation_is_planned_attempted_recorded_and_then_suppressed_as_duplicate(
    broker: str, demo_run: DemoRun
) -> None:
    ns, cfg = demo_run.ns, demo_run.cfg
    assert cfg.ack_timeout_s < cfg.window_s  # see the module docstring
    plans = healing(broker, ns, "exec-stagnant")
    planned = [h for h in plans if h["status"] == "planned"]
    assert len(planned) == 1, plans
    plan = planned[0]
    assert (plan["action_type"], plan["tier"], plan["attempt"]) == ("revise", "tier_2", 1)
    assert plan["stagnation_score"] == pytest.approx(0.6)

    # The executor ran it (the agent acknowledged) and reported into the log.
    reports = attempts(broker, ns, "exec-stagnant")
    assert [(a["data"]["idempotency_key"], a["data"]["attempt"]) for a in reports] == [
        (plan["idempotency_key"], 1)
    ]
    assert reports[0]["data"]["outcome"] == "success"
    assert reports[0]["source"] == "agentfold-demo-executor"

    # The healer's record — the worker's state, from its changelog — holds the success.
    history = []
    for r in records(broker, f"{ns}-state-changelog"):
        if r.key != EXEC_PREFIX + b"exec-stagnant" or r.value is None:
            continue
        decoded = decode_exec(r.value)
        if decoded is not None:
            rec = decoded[1].healing.get(plan["idempotency_key"])
            if rec is not None:
                history.append((rec.status, rec.reported))
    # The changelog holds flushed snapshots (streams/live.py), so the in-flight state
    # shows only when a flush fell between plan and report; the plan above proves it.
    assert history and history[-1] == ("success", 1), history
    assert set(history) <= {("running", 0), ("success", 1)}, history

    # Every later stagnant window: the same key, suppressed as a duplicate.
    later = [h for h in plans if h["window_start"] > plan["window_start"]]
    assert later, plans
    for h in later:
        assert (h["status"], h["reason"]) == ("suppressed", "duplicate_action")
        assert h["idempotency_key"] == plan["idempotency_key"]


def test_an_agent_that_never_answers_is_retried_up_to_the_cap(
    broker: str, demo_run: DemoRun
) -> None:
    ns, cfg = demo_run.ns, demo_run.cfg
    planned = [h for h in healing(broker, ns, "exec-silent") if h["status"] == "planned"]
    # Retried with the same key until the cap — or until inactivity ends the run, which
    # stops retries (how far it gets depends on where in a window the demo started).
    n = len(planned)
    assert 2 <= n <= cfg.max_attempts
    assert [h["attempt"] for h in planned] == list(range(1, n + 1))
    assert len({h["idempotency_key"] for h in planned}) == 1
    outcomes = [a["data"]["outcome"] for a in attempts(broker, ns, "exec-silent")]
    assert outcomes == ["completion_timeout"] * n


def test_sdk_runs_fold_into_the_expected_outcomes(broker: str, demo_run: DemoRun) -> None:
    latest: dict[str, dict[str, Any]] = {}
    for v in values(broker, f"{demo_run.ns}.runs"):
        latest[v["execution_id"]] = v
    assert {ex: v["status"] for ex, v in latest.items()} == {
        "exec-healthy": "completed",
        "exec-stagnant": "completed",
        "exec-silent": "timed_out",
        "exec-looping": "failed",
        "exec-failing": "completed",
        "exec-actions": "completed",
    }
    chains = [
        v["closed_by"]
        for v in values(broker, f"{demo_run.ns}.attribution")
        if v["execution_id"] == "exec-actions"
    ]
    assert sorted(chains) == ["completed", "completed", "timeout"]
    reasons = sorted(v["reason"] for v in values(broker, f"{demo_run.ns}.deadletter"))
    assert reasons == ["invalid_json", "schema_violation", "unknown_type"]


def test_live_equals_an_independent_offline_fold_of_the_log(broker: str, demo_run: DemoRun) -> None:
    """Not the demo's own check: `agentfold fold`'s code over the topic's messages."""
    lines = [r.value for r in records(broker, f"{demo_run.ns}.telemetry")]
    got, _ = live(broker, demo_run.ns)
    assert got == offline(lines, demo_run.cfg)


def test_demo_prints_the_loop_as_it_happens(demo_run: DemoRun) -> None:
    out = demo_run.output
    for needle in (
        "planned revise",
        "revise #1 → success",
        "suppressed revise (tier_2, score 0.60): duplicate_action",
        "escalate #1 → completion_timeout",
        "draft_report closed by timeout",
        "timed_out",
    ):
        assert needle in out, needle
