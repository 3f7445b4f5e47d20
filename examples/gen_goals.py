"""Generate examples/goals.jsonl: the runs of two goals, for the analyst commands
(docs/analysis.md). Deterministic: fixed times, no randomness. `make goals`.

  support-triage  nine ticket-triage runs: classify, look up the knowledge base, answer.
                  The lookup fails in four of them ("KB article not found" three times,
                  a model timeout once), one answer fails, and one run fails with its
                  answer still waiting for an outcome (a pending decision).
  report-writer   three report runs that all complete.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def ts(minutes: float) -> str:
    moment = T0 + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Run:
    def __init__(self, execution_id: str, goal: str, start: float) -> None:
        self.execution_id = execution_id
        self.goal = goal
        self.minute = start
        self.seq = 0
        self.decisions = 0
        self.events: list[dict[str, Any]] = []
        self.emit("run_started", goal_id=goal, stream_id="tickets", input_data={})

    def emit(self, kind: str, **data: Any) -> None:
        self.seq += 1
        self.minute += 0.5
        self.events.append(
            {
                "specversion": "1.0",
                "id": f"{self.execution_id}-{self.seq}",
                "source": f"{self.goal}-agent",
                "type": f"agentfold.{kind}",
                "subject": self.execution_id,
                "time": ts(self.minute),
                "seq": self.seq,
                "schema_version": 1,
                "goal_id": self.goal,
                "data": data,
            }
        )

    def decide(
        self,
        node: str,
        intent: str,
        options: list[tuple[str, str]],
        chosen: str,
        *,
        ok: bool | None,
        error: str | None = None,
        summary: str = "",
        constraints: tuple[str, ...] = (),
        context: dict[str, Any] | None = None,
        tokens: int = 0,
        latency: int = 0,
    ) -> str:
        decision_id = f"dec_{self.decisions}"
        self.decisions += 1
        self.emit(
            "decision",
            decision_id=decision_id,
            node_id=node,
            intent=intent,
            options=[{"id": i, "description": d} for i, d in options],
            chosen_option_id=chosen,
            reasoning=f"{intent.lower()} for this ticket",
            active_constraints=list(constraints),
            input_context=context or {},
        )
        if ok is not None:
            self.emit(
                "outcome",
                decision_id=decision_id,
                success=ok,
                error=error,
                summary=summary,
                tokens_used=tokens,
                latency_ms=latency,
            )
        return decision_id

    def end(self, success: bool, **data: Any) -> None:
        self.emit("run_ended", success=success, **data)


CLASSIFY = [("billing", "Billing question"), ("technical", "Technical issue")]
LOOKUP = [("kb", "Search the knowledge base"), ("web", "Search the web")]
ANSWER = [("draft", "Draft an answer"), ("escalate", "Escalate to a human")]


def triage(n: int, start: float, *, lookup: str | None, answer_ok: bool = True) -> Run:
    """One triage run; `lookup` is the knowledge-base error (None: it succeeds)."""
    run = Run(f"triage-{n:03d}", "support-triage", start)
    ticket = {"ticket": f"T-{1000 + n}"}
    run.decide(
        "classify-node",
        "Classify the ticket",
        CLASSIFY,
        "technical" if n % 3 else "billing",
        ok=True,
        summary=f"ticket T-{1000 + n} classified",
        context=ticket,
        tokens=120,
        latency=300,
    )
    run.decide(
        "lookup-node",
        "Find a knowledge-base article",
        LOOKUP,
        "kb",
        ok=lookup is None,
        error=lookup,
        constraints=("c-latency",),
        tokens=80,
        latency=900 if lookup else 400,
    )
    if lookup is not None:
        run.emit(
            "problem",
            problem_id="prob_0",
            severity="critical" if "not found" in lookup else "warning",
            description=f"knowledge base lookup failed: {lookup}",
            suggested_fix="Fall back to a web search when the knowledge base has no article",
        )
        run.end(False)
        return run
    run.decide(
        "answer-node",
        "Answer the customer",
        ANSWER,
        "draft",
        ok=answer_ok,
        summary="answer sent",
        context=ticket,
        tokens=400,
        latency=1500,
    )
    run.end(answer_ok)
    return run


def report(n: int, start: float) -> Run:
    run = Run(f"report-{n:03d}", "report-writer", start)
    run.decide(
        "outline-node",
        "Outline the report",
        [("std", "Standard outline")],
        "std",
        ok=True,
        summary="outline ready",
        context={"topic": "weekly"},
        tokens=200,
        latency=700,
    )
    run.decide(
        "write-node",
        "Write the report",
        [("long", "Long form")],
        "long",
        ok=True,
        summary="report written",
        context={"topic": "weekly"},
        tokens=900,
        latency=4000,
    )
    run.end(True)
    return run


def build() -> list[dict[str, Any]]:
    runs = [
        triage(1, 0, lookup=None),
        triage(2, 10, lookup="KB article not found"),
        triage(3, 20, lookup=None),
        triage(4, 30, lookup="KB article not found"),
        triage(5, 40, lookup="model timeout"),
        triage(6, 50, lookup=None, answer_ok=False),
        triage(7, 60, lookup="KB article not found"),
        triage(8, 70, lookup=None),
        report(1, 5),
        report(2, 35),
        report(3, 65),
    ]
    # A run whose answer never got an outcome before it failed: a pending decision.
    pending = Run("triage-009", "support-triage", 80)
    pending.decide("classify-node", "Classify the ticket", CLASSIFY, "billing", ok=True)
    pending.decide("answer-node", "Answer the customer", ANSWER, "escalate", ok=None)
    pending.end(False, narrative="")
    runs.append(pending)
    events = [e for run in runs for e in run.events]
    return sorted(events, key=lambda e: (e["time"], e["subject"], e["seq"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("goals.jsonl"))
    args = parser.parse_args()
    with open(args.out, "w") as out:
        for event in build():
            out.write(json.dumps(event, separators=(",", ":"), sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
