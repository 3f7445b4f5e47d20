"""A short, readable report of fold outputs, per execution (what `make demo` prints)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from schemas.outputs import (
    ATTRIBUTION,
    DEADLETTER,
    GOAL_FACTS,
    HEALING,
    RUNS,
    STAGNATION,
    AttributionChain,
    DeadLetter,
    HealingRecord,
    OutputRecord,
    RunRecord,
    StagnationRecord,
    validate_output,
)
from streams.views.render import chain_line, dead_letter_line, duration, healing_line, hhmm


@dataclass
class ExecutionView:
    run: RunRecord | None = None
    windows: list[StagnationRecord] = field(default_factory=list)
    healing: list[HealingRecord] = field(default_factory=list)
    chains: list[AttributionChain] = field(default_factory=list)


@dataclass
class Report:
    executions: dict[str, ExecutionView] = field(default_factory=lambda: defaultdict(ExecutionView))
    dead_letters: list[DeadLetter] = field(default_factory=list)
    goal_facts: list[dict[str, Any]] = field(default_factory=list)  # about goals, not runs

    def add(self, record: OutputRecord) -> None:
        v: Any = validate_output(record)
        if record.topic == DEADLETTER:
            self.dead_letters.append(v)
            return
        if record.topic == GOAL_FACTS:
            self.goal_facts.append(record.value)
            return
        view = self.executions[v.execution_id]
        if record.topic == RUNS:
            view.run = v
        elif record.topic == STAGNATION:
            view.windows.append(v)
        elif record.topic == HEALING:
            view.healing.append(v)
        elif record.topic == ATTRIBUTION:
            view.chains.append(v)


def build_report(records: Iterable[OutputRecord]) -> Report:
    report = Report()
    for record in records:
        report.add(record)
    return report


def print_report(report: Report, out: TextIO) -> None:
    w = out.write
    for exec_id in sorted(report.executions):
        view = report.executions[exec_id]
        run = view.run
        if run is not None:
            m = run.metrics
            status = run.status.value
            if run.completed_at:
                status += f" after {duration(run.duration_ms)}"
            w(f"\n▸ {exec_id}  [{run.agent_id}]  {status}\n")
            w(
                f"  decisions {m.total_decisions} (ok {m.successful_decisions}, "
                f"failed {m.failed_decisions}), problems {run.problem_count}"
                f"{', late events ' + str(run.late_events) if run.late_events else ''}\n"
            )
            if run.narrative:
                w(f"  narrative: {run.narrative}\n")
        else:
            w(f"\n▸ {exec_id}\n")
        if view.windows:
            cells = [f"{hhmm(s.window_start)} {s.score:.2f} {s.signal}" for s in view.windows[:8]]
            more = f" … +{len(view.windows) - 8}" if len(view.windows) > 8 else ""
            w(f"  windows: {' | '.join(cells)}{more}\n")
        for h in view.healing:
            w(f"  healing {hhmm(h.planned_at)} {healing_line(h.model_dump(mode='json'))}\n")
        for c in view.chains:
            w(f"  chain {chain_line(c.model_dump(mode='json'))}\n")
    if report.goal_facts:
        from streams.views.goals import goal_line, goal_progress

        for goal_id, record in goal_progress(report.goal_facts).items():
            w(f"\n◆ goal {goal_id}: {goal_line(record)}\n")
    if report.dead_letters:
        reasons = Counter(d.reason for d in report.dead_letters)
        listing = ", ".join(f"{r} ×{n}" for r, n in sorted(reasons.items()))
        w(f"\ndead letters: {len(report.dead_letters)} ({listing})\n")
        for d in report.dead_letters:
            w(f"  {dead_letter_line(d.model_dump(mode='json'))}\n")
