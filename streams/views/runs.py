"""`agentfold runs show|list`: one execution, or all runs, rebuilt from the log and
printed for a person (or as JSON for a machine).

The outputs come from a replay; the decisions with their outcomes and the healing
attempts come from the execution's own events, watched while the replay folds them
(the fold keeps only counts of those).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TextIO

from schemas.canonical import canonical_json
from schemas.outputs import OutputRecord
from schemas.records import Decision, Event, HealingAttempt, Outcome
from schemas.timefmt import format_ms
from streams.views.render import chain_line, clock, duration, window_line
from streams.views.report import ExecutionView, Report

MAX_LISTED = 200  # decisions / attempts listed in full; the rest are counted


@dataclass
class EventLog:
    """The execution's decisions (with outcomes) and healing attempts, bounded."""

    execution: str
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    more_decisions: int = 0
    more_attempts: int = 0

    def __call__(self, event: Event) -> None:
        if event.subject != self.execution:
            return
        if isinstance(event, Decision):
            d = event.data
            if d.decision_id in self.decisions:
                return
            if len(self.decisions) >= MAX_LISTED:
                self.more_decisions += 1
                return
            self.decisions[d.decision_id] = {
                "decision_id": d.decision_id,
                "time": format_ms(event.time),
                "node_id": d.node_id,
                "intent": d.intent,
                "chosen_option_id": d.chosen_option_id,
                "outcome": None,
            }
        elif isinstance(event, Outcome):
            o = event.data
            entry = self.decisions.get(o.decision_id)
            if entry is not None and entry["outcome"] is None:
                entry["outcome"] = {
                    "success": o.success,
                    "summary": o.summary,
                    "error": o.error,
                    "latency_ms": o.latency_ms,
                    "tokens_used": o.tokens_used,
                }
        elif isinstance(event, HealingAttempt):
            if len(self.attempts) >= MAX_LISTED:
                self.more_attempts += 1
                return
            a = event.data
            self.attempts.append(
                {
                    "time": format_ms(event.time),
                    "idempotency_key": a.idempotency_key,
                    "attempt": a.attempt,
                    "action_type": a.action_type,
                    "outcome": str(a.outcome),
                    "error_code": a.error_code,
                    "elapsed_s": a.elapsed_s,
                }
            )


def execution_json(view: ExecutionView, log: EventLog) -> bytes:
    return canonical_json(
        {
            "execution_id": log.execution,
            "run": view.run.model_dump(mode="json") if view.run else None,
            "decisions": list(log.decisions.values()),
            "decisions_not_listed": log.more_decisions,
            "windows": [w.model_dump(mode="json") for w in view.windows],
            "healing": [h.model_dump(mode="json") for h in view.healing],
            "attempts": log.attempts,
            "attempts_not_listed": log.more_attempts,
            "attribution": [c.model_dump(mode="json") for c in view.chains],
        }
    )


def print_execution(view: ExecutionView, log: EventLog, out: TextIO) -> None:
    w = out.write
    run = view.run
    w(f"execution {log.execution}\n")
    if run is None:
        w("  no run record (no run_started seen, or the log was cut before it)\n")
    else:
        m = run.metrics
        w(f"  agent {run.agent_id}   goal {run.goal_id or '-'}: {run.goal_description or '-'}\n")
        w(f"  status {run.status.value}   started {run.started_at}")
        w(
            f"   ended {run.completed_at}   ({duration(run.duration_ms)})\n"
            if run.completed_at
            else "\n"
        )
        w(
            f"  decisions {m.total_decisions} (ok {m.successful_decisions}, failed "
            f"{m.failed_decisions}, success rate {m.success_rate:.0%})   tokens {m.total_tokens}"
            f"   nodes {', '.join(m.nodes_executed) or '-'}\n"
        )
        if run.narrative:
            w(f"  narrative: {run.narrative}\n")
        if run.late_events or run.seq_gaps or run.ignored:
            w(
                f"  late events {run.late_events}   sequence gaps {run.seq_gaps}"
                f"   ignored {dict(run.ignored) or 0}\n"
            )
    if log.decisions:
        w("\ndecisions\n")
        for d in log.decisions.values():
            o = d["outcome"]
            verdict = "…pending" if o is None else ("ok" if o["success"] else "FAILED")
            detail = "" if o is None else (o["summary"] or o["error"] or "")
            w(f"  {clock(d['time'])}  {d['node_id']:<14} {d['intent'][:48]:<48} {verdict}")
            w(f"  {detail[:60]}\n" if detail else "\n")
        if log.more_decisions:
            w(f"  … {log.more_decisions} more decisions not listed\n")
    if run is not None and run.problems:
        w(f"\nproblems ({run.problem_count})\n")
        for p in run.problems:
            w(f"  {clock(p.time)}  {p.severity:<8} {p.description[:80]}\n")
    if view.windows:
        w("\nstagnation windows\n")
        for s in view.windows:
            w(f"  {window_line(s.model_dump(mode='json'))} · {s.event_count} events\n")
    if view.healing or log.attempts:
        w("\nhealing (plans from the fold, attempts reported by executors)\n")
        lines: list[tuple[str, int, str]] = []
        for h in view.healing:
            lines.append(
                (
                    h.planned_at,
                    0,
                    f"  {clock(h.planned_at)}  {h.status:<10} {h.action_type:<9} {h.tier}  "
                    f"score {h.stagnation_score:.2f}  attempt {h.attempt}  {h.reason}  "
                    f"[{h.idempotency_key[:14]}…]\n",
                )
            )
        for a in log.attempts:
            err = f" ({a['error_code']})" if a["error_code"] else ""
            lines.append(
                (
                    a["time"],
                    1,
                    f"  {clock(a['time'])}  attempt    {a['action_type'] or '-':<9} "
                    f"#{a['attempt']}  {a['outcome']}{err} in {a['elapsed_s']:.1f}s  "
                    f"[{a['idempotency_key'][:14]}…]\n",
                )
            )
        for _, _, line in sorted(lines, key=lambda x: (x[0], x[1])):
            w(line)
        if log.more_attempts:
            w(f"  … {log.more_attempts} more attempts not listed\n")
    if view.chains:
        w("\nattribution\n")
        for c in view.chains:
            credits = ", ".join(f"{x:.3f}" for x in c.step_credits[-6:])
            w(f"  {chain_line(c.model_dump(mode='json'))}")
            w(f"  credits …{credits}\n" if credits else "\n")


def execution_view(records: list[OutputRecord]) -> ExecutionView:
    report = Report()
    for record in records:
        report.add(record)
    return next(iter(report.executions.values()), ExecutionView())


@dataclass(frozen=True, slots=True)
class RunRow:
    execution_id: str
    agent_id: str
    goal_id: str
    status: str
    started_at: str
    duration_ms: int
    decisions: int
    success_rate: float
    problems: int


def latest_runs(records: list[OutputRecord]) -> list[RunRow]:
    """The latest run snapshot per execution, by execution id."""
    latest: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.topic == "runs":
            latest[r.value["execution_id"]] = r.value
    rows = []
    for exec_id in sorted(latest):
        v = latest[exec_id]
        m = v["metrics"]
        rows.append(
            RunRow(
                exec_id,
                v["agent_id"],
                v["goal_id"],
                v["status"],
                v["started_at"],
                v["duration_ms"],
                m["total_decisions"],
                m["success_rate"],
                v["problem_count"],
            )
        )
    return rows


def print_runs(rows: list[RunRow], out: TextIO) -> None:
    w = out.write
    w(
        f"{'EXECUTION':<24} {'AGENT':<16} {'GOAL':<16} {'STATUS':<10} {'STARTED':<20} "
        f"{'DURATION':>9} {'DECISIONS':>9} {'OK':>5} {'PROBLEMS':>8}\n"
    )
    for r in rows:
        w(
            f"{r.execution_id[:24]:<24} {r.agent_id[:16]:<16} {r.goal_id[:16]:<16} "
            f"{r.status:<10} {r.started_at[:19]:<20} {duration(r.duration_ms):>9} "
            f"{r.decisions:>9} {r.success_rate:>5.0%} {r.problems:>8}\n"
        )
    w(f"{len(rows)} run(s)\n")
