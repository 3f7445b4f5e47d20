"""Generate examples/fleet.jsonl: a small fleet of agents, one persona each.

Deterministic: a fixed seed and fixed timestamps, so the file (and every fold of it)
is byte-identical on every machine. Run `make fleet` to regenerate.

Personas (execution ids):
  exec-healthy   engagement keeps up with impressions; decisions succeed; ends well
  exec-stagnant  impressions grow, engagements stall: metric-ratio stagnation; the
                 executor reports its escalation back, so the next plan is a duplicate
  exec-silent    starts, works briefly, then goes quiet: silence windows
  exec-looping   takes the same decision with the same result again and again
  exec-failing   its outcomes fail in a row (failure streak); ends failed
  exec-actions   actions with steps and observations, a nested action, one action
                 that never completes (closed by the 6 h TTL), a transient healing
                 failure that is retried
plus a goal definition (fix-build's), worker ticks (the clock), a redelivered batch,
and a few malformed lines.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20261122
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def ts(minutes: float) -> str:
    moment = T0 + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Agent:
    def __init__(self, execution_id: str, source: str, goal: str, log: list[tuple[float, Any]]):
        self.execution_id = execution_id
        self.source = source
        self.goal = goal
        self.seq = 0
        self.decisions = 0
        self.log = log

    def event(self, minute: float, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        return {
            "specversion": "1.0",
            "id": f"{self.execution_id}-{self.seq}",
            "source": self.source,
            "type": f"agentfold.{kind}",
            "subject": self.execution_id,
            "time": ts(minute),
            "seq": self.seq,
            "schema_version": 1,
            "goal_id": self.goal,
            "data": data,
        }

    def emit(self, minute: float, kind: str, data: dict[str, Any]) -> None:
        self.log.append((minute, self.event(minute, kind, data)))

    def batch(self, minute: float, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Several events in one message, as the SDK batches them."""
        self.log.append((minute, [self.event(minute, k, d) for k, d in items]))

    def decide(self, minute: float, intent: str, chosen: str, node: str = "planner") -> str:
        decision_id = f"dec_{self.decisions}"
        self.decisions += 1
        self.emit(
            minute,
            "decision",
            {
                "decision_id": decision_id,
                "node_id": node,
                "intent": intent,
                "options": [
                    {"id": chosen, "description": f"do {chosen}", "action_type": "tool_call"}
                ],
                "chosen_option_id": chosen,
                "reasoning": f"{chosen} fits {intent}",
            },
        )
        return decision_id

    def outcome(
        self,
        minute: float,
        decision_id: str,
        ok: bool,
        result: Any = None,
        error: str | None = None,
        tokens: int = 0,
    ) -> None:
        self.emit(
            minute,
            "outcome",
            {
                "decision_id": decision_id,
                "success": ok,
                "result": result,
                "error": error,
                "tokens_used": tokens,
                "latency_ms": 800,
            },
        )

    def metrics(self, minute: float, impressions: int, engagements: int) -> None:
        self.batch(
            minute,
            [
                ("metric", {"name": "impressions", "value": impressions, "unit": "count"}),
                ("metric", {"name": "engagements", "value": engagements, "unit": "count"}),
            ],
        )


def healthy(log: list[tuple[float, Any]], rng: random.Random) -> None:
    a = Agent("exec-healthy", "agent-healthy", "grow-audience", log)
    a.emit(
        0,
        "run_started",
        {
            "goal_id": "grow-audience",
            "goal_description": "Post and engage",
            "input_data": {"channel": "blog"},
        },
    )
    imp = eng = 0
    for step in range(28):  # every 10 minutes for 4 h 40 min
        m = 5 + step * 10
        imp += rng.randint(900, 1100)
        eng += rng.randint(80, 120)
        a.metrics(m, imp, eng)
        if step % 4 == 0:
            d = a.decide(m + 1, "pick next post", "post", node="writer")
            a.outcome(m + 2, d, True, {"posted": True}, tokens=350)
    a.emit(290, "run_ended", {"success": True, "output_data": {"posts": 7}})


def stagnant(log: list[tuple[float, Any]], rng: random.Random) -> None:
    a = Agent("exec-stagnant", "agent-social", "grow-audience", log)
    a.emit(2, "run_started", {"goal_id": "grow-audience", "goal_description": "Amplify a post"})
    imp = 1000
    eng = 10
    for step in range(40):  # 6 h 40 min of samples
        m = 6 + step * 10
        imp += rng.randint(400, 600)
        eng += 1 if step < 20 else rng.randint(6, 10)  # stalls, then a modest recovery
        a.metrics(m, imp, eng)
    # The executor carries out the first plan (the 07:30 window closes at 09:00:30) and
    # reports back: the same key is then a duplicate in the next stagnant window.
    key = healing_key("exec-stagnant", "escalate", "tier_3")
    log.append((62, executor_report("exec-stagnant", key, 1, "success", None, 62)))
    a.emit(420, "run_ended", {"success": True})


def silent(log: list[tuple[float, Any]], rng: random.Random) -> None:
    a = Agent("exec-silent", "agent-quiet", "summarise-inbox", log)
    a.emit(3, "run_started", {"goal_id": "summarise-inbox"})
    d = a.decide(4, "read inbox", "fetch")
    a.outcome(5, d, True, {"messages": 12}, tokens=120)
    a.emit(
        6,
        "problem",
        {
            "problem_id": "prob_0",
            "severity": "warning",
            "description": "mail server slow",
            "root_cause": "latency",
        },
    )


def looping(log: list[tuple[float, Any]], rng: random.Random) -> None:
    a = Agent("exec-looping", "agent-loop", "fix-build", log)
    a.emit(1, "run_started", {"goal_id": "fix-build", "goal_description": "Make CI green"})
    for i in range(12):
        m = 95 + i * 6
        d = a.decide(m, "retry the failing test", "rerun", node="fixer")
        a.outcome(m + 1, d, True, {"tests": "1 failed"}, tokens=200)
    a.emit(200, "run_ended", {"success": False, "narrative": "Gave up after reruns."})


def failing(log: list[tuple[float, Any]], rng: random.Random) -> None:
    a = Agent("exec-failing", "agent-crm", "sync-contacts", log)
    a.emit(4, "run_started", {"goal_id": "sync-contacts"})
    for i, intent in enumerate(
        [
            "fetch contacts",
            "map fields",
            "push batch",
            "push batch",
            "push batch",
            "push batch",
            "push again",
        ]
    ):
        m = 100 + i * 5
        d = a.decide(m, intent, f"opt{i % 3}", node="sync")
        a.outcome(m + 2, d, False, error="HTTP 503", tokens=90)
    a.emit(
        140,
        "problem",
        {
            "problem_id": "prob_0",
            "severity": "critical",
            "description": "CRM API unavailable",
            "suggested_fix": "back off",
        },
    )
    a.emit(200, "run_ended", {"success": False})


def actions(log: list[tuple[float, Any]], rng: random.Random) -> None:
    a = Agent("exec-actions", "agent-research", "answer-question", log)
    a.emit(0, "run_started", {"goal_id": "answer-question"})
    a.emit(
        10,
        "action_started",
        {
            "action_id": "act-research",
            "action_type": "research",
            "expected_outcome": {"sources": 3, "quality": 0.9},
            "acceptance_criteria": ["three sources", "quality above 0.8"],
        },
    )
    a.emit(
        12,
        "action_started",
        {
            "action_id": "act-search",
            "action_type": "web_search",
            "parent_action_id": "act-research",
        },
    )
    for i, conf in enumerate([0.4, 0.7, 0.9]):
        a.emit(
            13 + i,
            "step",
            {
                "action_id": "act-search",
                "description": f"query {i + 1}",
                "decision": "refine" if i < 2 else "accept",
                "confidence": conf,
                "state": {"results": 10 * (i + 1)},
            },
        )
    a.emit(
        16,
        "observation",
        {
            "action_id": "act-search",
            "observation_type": "world_state",
            "data": {"http_status": 200},
            "source": "search-api",
        },
    )
    a.emit(17, "action_completed", {"action_id": "act-search", "outcome": {"hits": 30}})
    for i in range(5):
        a.emit(
            20 + i * 3,
            "step",
            {
                "action_id": "act-research",
                "description": f"read {i}",
                "confidence": round(0.5 + i * 0.1, 2),
            },
        )
    a.emit(
        40,
        "observation",
        {
            "action_id": "act-research",
            "observation_type": "user_feedback",
            "data": {"rating": 4},
            "source": "analyst",
            "confidence": 0.8,
        },
    )
    a.emit(
        45,
        "action_completed",
        {"action_id": "act-research", "outcome": {"sources": 3, "quality": 0.85}},
    )
    # Started, stepped once, then forgotten: the 6 h TTL closes it with a timeout.
    a.emit(50, "action_started", {"action_id": "act-forgotten", "action_type": "draft_report"})
    a.emit(52, "step", {"action_id": "act-forgotten", "description": "outline", "confidence": 0.3})
    # Metrics stall from 09:00 so a plan comes; its first attempt fails transiently.
    imp, eng = 500, 40  # engagement never moves
    for step in range(30):
        m = 60 + step * 10
        imp += 300
        a.metrics(m, imp, eng)
    key = healing_key("exec-actions", "escalate", "tier_3")
    log.append((153, executor_report("exec-actions", key, 1, "send_error", "rate_limit", 153)))
    log.append((156, executor_report("exec-actions", key, 2, "success", None, 156)))
    a.emit(420, "run_ended", {"success": True, "output_data": {"answer": "42"}})


def healing_key(execution_id: str, action: str, tier: str) -> str:
    import hashlib

    digest = hashlib.sha256(f"{execution_id}:{action}:{tier}".encode()).hexdigest()
    return f"sheal_{digest[:32]}"


def executor_report(
    execution_id: str, key: str, attempt: int, outcome: str, error_code: str | None, minute: float
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"attempt-{key[6:14]}-{attempt}",
        "source": "demo-executor",
        "type": "agentfold.healing_attempt",
        "subject": execution_id,
        "time": ts(minute),
        "schema_version": 1,
        "data": {
            "idempotency_key": key,
            "attempt": attempt,
            "outcome": outcome,
            "error_code": error_code,
            "elapsed_s": 2.0,
            "action_type": "escalate",
        },
    }


def goal_definitions(log: list[tuple[float, Any]]) -> None:
    """The definition of fix-build's goal (what `agentfold goals define` writes): the
    looping agent's decisions are scored against it (docs/goals.md)."""
    log.append(
        (
            0.2,
            {
                "specversion": "1.0",
                "id": "goal-fix-build-v1",
                "source": "agentfold-goals",
                "type": "agentfold.goal_defined",
                "time": ts(0.2),
                "schema_version": 1,
                "data": {
                    "goal_id": "fix-build",
                    "version": 1,
                    "name": "Fix the build",
                    "description": "Make CI green",
                    "success_criteria": [
                        {
                            "id": "sc-tests",
                            "description": "failing test retried until it passes",
                            "target": "90%",
                        }
                    ],
                    "constraints": [
                        {
                            "id": "c-budget",
                            "description": "stay within 5,000 tokens",
                            "category": "cost",
                        }
                    ],
                },
            },
        )
    )


def ticks(log: list[tuple[float, Any]]) -> None:
    for minute in range(0, 9 * 60 + 1, 15):
        log.append(
            (
                minute + 0.5,
                {
                    "specversion": "1.0",
                    "id": f"tick-{minute}",
                    "source": "worker-demo",
                    "type": "agentfold.tick",
                    "time": ts(minute + 0.5),
                    "schema_version": 1,
                    "data": {},
                },
            )
        )


MALFORMED = [
    b'{"type": "agentfold.metric", "id": "broken", "subject": "exec-healthy"',  # cut off
    b'{"specversion": "1.0", "id": "x1", "source": "agent-x", "type": "agentfold.telepathy",'
    b' "subject": "exec-x", "time": "2026-11-22T09:00:00Z", "schema_version": 1, "data": {}}',
    b'{"specversion": "1.0", "id": "x2", "source": "agent-x", "type": "agentfold.step",'
    b' "subject": "exec-actions", "time": "2026-11-22T09:00:00Z", "schema_version": 1,'
    b' "data": {"action_id": "act-research", "confidence": "very"}}',
    b"\xff\xfe not even text",
]


def build(seed: int = SEED) -> list[bytes]:
    rng = random.Random(seed)
    log: list[tuple[float, Any]] = []
    for persona in (healthy, stagnant, silent, looping, failing, actions):
        persona(log, rng)
    goal_definitions(log)
    ticks(log)
    log.sort(key=lambda item: item[0])  # stable: same-minute events keep their order
    lines = [json.dumps(item, separators=(",", ":")).encode() for _, item in log]
    # A redelivered batch (same ids and seqs) must change nothing.
    redelivered = next(
        i for i, line in enumerate(lines) if line.startswith(b"[") and b"exec-healthy" in line
    )
    lines.insert(redelivered + 5, lines[redelivered])
    for i, bad in enumerate(MALFORMED):
        lines.insert(40 + i * 37, bad)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("fleet.jsonl"))
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    lines = build(args.seed)
    args.out.write_bytes(b"\n".join(lines) + b"\n")
    print(f"wrote {len(lines)} lines to {args.out}")


if __name__ == "__main__":
    main()
