"""The per-partition side of goal progress: definitions kept, goal facts emitted.

A `goal_defined` event reaches every partition (docs/goals.md); each partition's fold
keeps the newest version of each goal (`PartitionMeta.goals`, at most `goals_cap`) and
says so with a `defined` fact. A decision of a run whose goal is defined is scored
against the definition in force when it is folded — which criteria it bears on — and
becomes a `decided` fact; its outcome a `resolved` fact with the same score. Facts go to
the `goalfacts` topic keyed by goal id, numbered per partition (`PartitionMeta.facts`,
restored with the state, so a refold after a crash numbers them the same and the goal
stage can skip what it applied: processors/goals.py).

A constraint of the definition is violated — a `violation` fact — when a `problem` of
the run names it (`constraint_id`), or when the run's totals first exceed the budget
its `check` states (`tokens <= 5000`: processors/goals.py `budget`), at the event that
took them past it; each budget once per run, since totals never decrease.
"""

from __future__ import annotations

from typing import Any

from processors.bounds import cap_text, json_size
from processors.config import FoldConfig
from processors.goals import (
    BUDGET_METRICS,
    Constraint,
    GoalDefinition,
    definition_from_event,
    definition_json,
    relevant_criteria,
)
from processors.state import DecisionFacts, ExecState, PartitionState, RunState
from schemas.outputs import GOAL_FACTS, OutputRecord
from schemas.records import Decision, GoalDefined, Outcome, Problem
from schemas.timefmt import format_ms

Totals = tuple[int, int, int, int]  # a run's totals, in BUDGET_METRICS' order


def _fact(ps: PartitionState, kind: str, goal_id: str, version: int, **fields: Any) -> OutputRecord:
    meta = ps.meta
    meta.facts += 1
    value = {
        "id": f"goalfact:{meta.partition}:{meta.facts}",
        "kind": kind,
        "goal_id": goal_id,
        "version": version,
        "partition": meta.partition,
        "seq": meta.facts,
        **fields,
    }
    return OutputRecord(GOAL_FACTS, goal_id, value)


def on_goal_defined(
    ps: PartitionState, ev: GoalDefined, cfg: FoldConfig, out: list[OutputRecord]
) -> str | None:
    """Keep the definition if it is newer; the reason it was refused, or None."""
    data = ev.data
    goals = ps.meta.goals
    current = goals.get(data.goal_id)
    if current is not None and current.version >= data.version:
        return None  # written to every partition, and again on redelivery: not an error
    if current is None and len(goals) >= cfg.goals_cap:
        return (
            f"{len(goals)} goals are defined, the most a partition keeps (goals_cap); "
            f"goal {data.goal_id!r} was not added"
        )
    definition = definition_from_event(data, cfg.summary_text_max)
    # Every definition rides in the partition's commit record: together they stay
    # within one execution's state budget.
    size = json_size(definition_json(definition))
    others = sum(json_size(definition_json(d)) for g, d in goals.items() if g != data.goal_id)
    if size + others > cfg.state_max_bytes:
        return (
            f"goal {data.goal_id!r}'s definition ({size} bytes encoded) would take the "
            f"partition's definitions past state_max_bytes ({cfg.state_max_bytes})"
        )
    goals[definition.goal_id] = definition
    out.append(
        _fact(
            ps,
            "defined",
            definition.goal_id,
            definition.version,
            definition=definition_json(definition),
        )
    )
    return None


def on_decision(
    ps: PartitionState,
    ex: ExecState,
    ev: Decision,
    index: int,
    facts: DecisionFacts,
    cfg: FoldConfig,
    out: list[OutputRecord],
) -> None:
    """Score a new decision against its goal's definition, if the goal is defined."""
    run = ex.run
    definition = ps.meta.goals.get(run.goal_id) if run.goal_id else None
    if definition is None:
        return
    data = ev.data
    relevant = relevant_criteria(definition, data.intent, data.reasoning, data.active_constraints)
    facts.goal_version = definition.version
    facts.goal_relevant = relevant
    facts.goal_time_ms = ev.time
    first = not run.goal_seen
    run.goal_seen = True
    out.append(
        _fact(
            ps,
            "decided",
            definition.goal_id,
            definition.version,
            execution_id=ex.execution_id,
            stream_id=run.stream_id,
            decision_id=data.decision_id,
            index=index,
            time_ms=ev.time,
            intent=cap_text(data.intent, cfg.summary_text_max),
            relevant=relevant,
            first_of_run=first,
        )
    )


def on_outcome(
    ps: PartitionState,
    ex: ExecState,
    ev: Outcome,
    index: int,
    facts: DecisionFacts,
    out: list[OutputRecord],
) -> None:
    """A scored decision's outcome."""
    if not facts.goal_version:
        return
    out.append(
        _fact(
            ps,
            "resolved",
            ex.run.goal_id,
            facts.goal_version,
            execution_id=ex.execution_id,
            stream_id=ex.run.stream_id,
            decision_id=ev.data.decision_id,
            index=index,
            time_ms=facts.goal_time_ms,
            relevant=list(facts.goal_relevant),
            success=ev.data.success,
        )
    )


def goal_of(ps: PartitionState, run: RunState) -> GoalDefinition | None:
    """The definition in force for the run's goal, if it is defined."""
    return ps.meta.goals.get(run.goal_id) if run.goal_id else None


def totals(run: RunState) -> Totals:
    return (run.tokens, run.latency_ms, run.total_decisions, run.failed)


def _violation(
    ps: PartitionState,
    ex: ExecState,
    definition: GoalDefinition,
    c: Constraint,
    details: str,
    t: int,
    out: list[OutputRecord],
) -> None:
    out.append(
        _fact(
            ps,
            "violation",
            definition.goal_id,
            definition.version,
            execution_id=ex.execution_id,
            stream_id=ex.run.stream_id,
            constraint_id=c.id,
            description=c.description,
            details=details,
            time=format_ms(t),
        )
    )


def on_problem(
    ps: PartitionState, ex: ExecState, ev: Problem, cfg: FoldConfig, out: list[OutputRecord]
) -> None:
    """A problem that names a constraint of its run's goal violates it."""
    cid = ev.data.constraint_id
    definition = goal_of(ps, ex.run) if cid is not None else None
    if definition is None:
        return
    for c in definition.constraints:
        if c.id == cid:
            details = cap_text(ev.data.description, cfg.summary_text_max)
            _violation(ps, ex, definition, c, details, ev.time, out)
            return


def check_budgets(
    ps: PartitionState,
    ex: ExecState,
    definition: GoalDefinition,
    before: Totals,
    t: int,
    out: list[OutputRecord],
) -> None:
    """The budgets the event just took the run's totals past."""
    after = totals(ex.run)
    if after == before:
        return
    for c in definition.constraints:
        if not c.metric:
            continue
        i = BUDGET_METRICS.index(c.metric)
        if before[i] <= c.limit < after[i]:
            _violation(ps, ex, definition, c, f"{c.metric} {after[i]} > {c.limit}", t, out)
