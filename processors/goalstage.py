"""The goal stage: goal facts folded into each goal's progress record.

The per-partition fold writes goal facts (processors/goalfacts.py) to the `goalfacts`
topic, partitioned by goal id — a repartition topic: every fact of a goal reaches one
partition of it, interleaved with other partitions' facts for the same goal in whatever
order their workers wrote them. The stage keeps, per goal, its progress (GoalState,
processors/goals.py) and the definition in force, and writes the goal's record
(`goal_record`) to the compacted `goals` topic whenever it changed.

Intermediate records depend on that interleaving; the state does not: it is a function
of the set of facts applied (processors/goals.py), so the latest record of each goal is
the same live, offline and on replay. A fact's definition precedes it in the topic: a
partition emits its `defined` fact before any fact of that version, and its facts for
one goal reach one partition of `goalfacts` in the order it wrote them.

State per goal is bounded by its definition (criteria, five evidence slots each), the
kept violations, the streams cap and one position per source partition; the number of
goals by the fold's `goals_cap`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processors.goals import (
    CriterionAcc,
    GoalDefinition,
    GoalState,
    apply_fact,
    definition_from_json,
    definition_json,
    evaluate,
    threshold,
)


@dataclass(slots=True)
class GoalSlot:
    state: GoalState
    definition: GoalDefinition | None = None  # the one of state.version, once seen


def fold_fact(goals: dict[str, GoalSlot], fact: dict[str, Any]) -> bool:
    """Apply one goal fact; whether it changed its goal (False: a redelivery, a fact of
    an older version, or of a goal whose definition was never seen)."""
    goal_id = str(fact["goal_id"])
    slot = goals.get(goal_id)
    if fact["kind"] == "defined":
        definition = definition_from_json(dict(fact["definition"]))
        if slot is None:
            slot = goals[goal_id] = GoalSlot(GoalState(goal_id))
        if not apply_fact(slot.state, definition, fact):
            return False
        if slot.definition is None or slot.definition.version != slot.state.version:
            slot.definition = definition
        return True
    if slot is None or slot.definition is None:
        return False  # its definition is not in the log (retention removed it)
    if int(fact["version"]) > slot.state.version:
        return False  # cannot happen in order: the version's `defined` fact comes first
    return apply_fact(slot.state, slot.definition, fact)


def goal_record(slot: GoalSlot) -> dict[str, Any]:
    """The goal's record on the `goals` topic: hive's progress (A7–A17) with the
    definition's name, description and each criterion's target rate."""
    definition = slot.definition
    assert definition is not None, "a goal's record needs its definition"
    record = evaluate(slot.state, definition)
    record["name"] = definition.name
    record["description"] = definition.description
    record["targets"] = {c.id: threshold(c.target) for c in definition.criteria}
    return record


# ─── state ⇄ JSON (the worker's changelog) ──────────────────────────────────────────


def slot_to_json(slot: GoalSlot) -> dict[str, Any]:
    s = slot.state
    return {
        "goal_id": s.goal_id,
        "version": s.version,
        "decisions": s.decisions,
        "succeeded": s.succeeded,
        "failed": s.failed,
        "executions": s.executions,
        "streams": list(s.streams),
        "criteria": {
            cid: [acc.relevant, acc.resolved, acc.succeeded,
                  [[*order, *entry] for order, entry in sorted(acc.first.items())]]
            for cid, acc in s.criteria.items()
        },
        "violations": s.violations,
        "violations_total": s.violations_total,
        "hard_violated": s.hard_violated,
        "applied": [[p, n] for p, n in sorted(s.applied.items())],
        "definition": definition_json(slot.definition) if slot.definition else None,
    }  # fmt: skip


def slot_from_json(o: dict[str, Any]) -> GoalSlot:
    criteria: dict[str, CriterionAcc] = {}
    for cid, (relevant, resolved, succeeded, first) in o["criteria"].items():
        acc = CriterionAcc(int(relevant), int(resolved), int(succeeded))
        for t, execution, index, decision, kept_id, intent, ok in first:
            acc.first[(int(t), str(execution), int(index), str(decision))] = [kept_id, intent, ok]
        criteria[str(cid)] = acc
    state = GoalState(
        str(o["goal_id"]),
        int(o["version"]),
        int(o["decisions"]),
        int(o["succeeded"]),
        int(o["failed"]),
        int(o["executions"]),
        {str(s): None for s in o["streams"]},
        criteria,
        [dict(v) for v in o["violations"]],
        int(o["violations_total"]),
        bool(o["hard_violated"]),
        {int(p): int(n) for p, n in o["applied"]},
    )
    d = o["definition"]
    return GoalSlot(state, definition_from_json(d) if d is not None else None)
