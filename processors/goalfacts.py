"""The per-partition side of goal progress: definitions kept, goal facts emitted.

A `goal_defined` event reaches every partition (docs/goals.md); each partition's fold
keeps the newest version of each goal (`PartitionMeta.goals`, at most `goals_cap`) and
says so with a `defined` fact. A decision of a run whose goal is defined is scored
against the definition in force when it is folded — which criteria it bears on — and
its outcome counted with the same score. What one message does to a goal is summed
into one `tally` fact, emitted when the message is folded (`end_message`): counts add
up, so the goal stage gets the same progress from one tally as from a fact per decision
and outcome, at a fraction of the cost (a message of an SDK batch holds dozens of them).

Only evidence travels one by one: a criterion's evidence is the goal's first five
relevant decisions in a total order led by event time (processors/goals.py), so a
decision later than the partition's first five relevant ones (`PartitionMeta.evidence`)
is no one's evidence. The others ride in the tally — `decided` with their intent, and
their outcomes in `resolved` — and the stage keeps the first five over all partitions.

Facts go to the `goalfacts` topic keyed by goal id, numbered per partition
(`PartitionMeta.facts`, restored with the state, so a refold after a crash numbers them
the same and the goal stage can skip what it applied). A message is what every driver
folds as a unit — a Kafka message live and on replay, a line of a log file offline — so
the tallies are the same on every path.

A constraint of the definition is violated — a `violation` fact — when a `problem` of
the run names it (`constraint_id`), or when the run's totals first exceed the budget
its `check` states (`tokens <= 5000`: processors/goals.py `budget`), at the event that
took them past it; each budget once per run, since totals never decrease.
"""

from __future__ import annotations

from bisect import insort
from typing import Any

from processors.bounds import cap_text, json_size
from processors.goals import (
    BUDGET_METRICS,
    EVIDENCE,
    Constraint,
    GoalDefinition,
    definition_from_event,
    definition_json,
    relevant_criteria,
)
from processors.limits import Limits
from processors.state import DecisionFacts, ExecState, PartitionState, RunState, Tally
from schemas.outputs import GOAL_FACTS, OutputRecord
from schemas.records import Decision, GoalDefined, Outcome, Problem
from schemas.timefmt import format_ms

Totals = tuple[int, int, int, int]  # a run's totals, in BUDGET_METRICS' order
# The most a criterion's evidence times take in the partition's commit record: EVIDENCE
# signed 64-bit integers, their separators and the criterion's key.
EVIDENCE_BYTES_PER_CRITERION = EVIDENCE * 21 + 8


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
    ps: PartitionState, ev: GoalDefined, cfg: Limits, out: list[OutputRecord]
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
    # Every definition rides in the partition's commit record, with the times of its
    # evidence so far: together they stay within one execution's state budget.
    size = _committed_size(definition)
    others = sum(_committed_size(d) for g, d in goals.items() if g != data.goal_id)
    if size + others > cfg.state_max_bytes:
        return (
            f"goal {data.goal_id!r}'s definition ({size} bytes encoded) would take the "
            f"partition's definitions past state_max_bytes ({cfg.state_max_bytes})"
        )
    end_goal(ps, definition.goal_id, out)  # what the old version was told comes first
    goals[definition.goal_id] = definition
    ps.meta.evidence.pop(definition.goal_id, None)  # progress starts again
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


def _committed_size(definition: GoalDefinition) -> int:
    scored = sum(1 for c in definition.criteria if c.type == "success_rate")
    return json_size(definition_json(definition)) + scored * EVIDENCE_BYTES_PER_CRITERION


def _tally(ps: PartitionState, definition: GoalDefinition) -> Tally:
    tally = ps.tallies.get(definition.goal_id)
    if tally is None:
        tally = ps.tallies[definition.goal_id] = Tally(definition.version)
    return tally


def on_decision(
    ps: PartitionState,
    ex: ExecState,
    ev: Decision,
    index: int,
    facts: DecisionFacts,
    cfg: Limits,
) -> None:
    """Score a new decision against its goal's definition, if the goal is defined."""
    run = ex.run
    definition = ps.meta.goals.get(run.goal_id) if run.goal_id else None
    if definition is None:
        return
    data = ev.data
    relevant = relevant_criteria(definition, data.intent, data.reasoning, data.active_constraints)
    t = ev.time
    facts.goal_version = definition.version
    facts.goal_relevant = tuple(relevant)
    facts.goal_time_ms = t
    tally = _tally(ps, definition)
    tally.decisions += 1
    if not run.goal_seen:
        run.goal_seen = True
        tally.runs.append(ex.execution_id)
    tally.streams[run.stream_id] = None
    if not relevant:
        return
    counts = tally.criteria
    firsts = ps.meta.evidence.get(definition.goal_id)
    if firsts is None:
        firsts = ps.meta.evidence[definition.goal_id] = {}
    candidate: list[str] = []
    for cid in relevant:
        n = counts.get(cid)
        if n is None:
            counts[cid] = [1, 0, 0]
        else:
            n[0] += 1
        times = firsts.get(cid)
        if times is None:
            firsts[cid] = [t]
        elif len(times) < EVIDENCE:
            insort(times, t)
        elif t <= times[-1]:  # ties may be evidence: the order goes on past the time
            insort(times, t)
            del times[EVIDENCE:]
        else:
            continue
        candidate.append(cid)
    if candidate:
        facts.goal_evidence = tuple(candidate)
        intent = cap_text(data.intent, cfg.summary_text_max)
        tally.decided.append([t, ex.execution_id, index, data.decision_id, intent, candidate])


def on_outcome(
    ps: PartitionState, ex: ExecState, ev: Outcome, index: int, facts: DecisionFacts
) -> None:
    """A scored decision's outcome (not counted if the goal's definition changed since:
    the stage restarted the goal's progress)."""
    if not facts.goal_version:
        return
    definition = goal_of(ps, ex.run)
    if definition is None or definition.version != facts.goal_version:
        return
    tally = _tally(ps, definition)
    ok = ev.data.success
    if ok:
        tally.succeeded += 1
    else:
        tally.failed += 1
    counts = tally.criteria
    for cid in facts.goal_relevant:
        n = counts.get(cid)
        if n is None:
            n = counts[cid] = [0, 0, 0]
        n[1] += 1
        if ok:
            n[2] += 1
    if facts.goal_evidence:
        order = [facts.goal_time_ms, ex.execution_id, index, ev.data.decision_id]
        tally.resolved.append([*order, ok, list(facts.goal_evidence)])


def end_goal(ps: PartitionState, goal_id: str, out: list[OutputRecord]) -> None:
    """Emit the goal's tally of the message so far, if it has one."""
    tally = ps.tallies.pop(goal_id, None)
    if tally is not None:
        out.append(_tally_fact(ps, goal_id, tally))


def end_message(ps: PartitionState, out: list[OutputRecord]) -> None:
    """Emit the message's tallies, goals in the order the message first touched them."""
    for goal_id, tally in ps.tallies.items():
        out.append(_tally_fact(ps, goal_id, tally))
    ps.tallies = {}


def _tally_fact(ps: PartitionState, goal_id: str, tally: Tally) -> OutputRecord:
    return _fact(
        ps,
        "tally",
        goal_id,
        tally.version,
        decisions=tally.decisions,
        succeeded=tally.succeeded,
        failed=tally.failed,
        runs=tally.runs,
        streams=list(tally.streams),
        criteria=tally.criteria,
        decided=tally.decided,
        resolved=tally.resolved,
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
    ps: PartitionState, ex: ExecState, ev: Problem, cfg: Limits, out: list[OutputRecord]
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
