"""Goal progress from goal facts (the `goalfacts` topic, or a replay's records): the
goal stage run offline over the whole set (processors/goals.py), and its text form."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from processors.goals import (
    GoalDefinition,
    GoalState,
    apply_fact,
    definition_from_json,
    evaluate,
    threshold,
)

Fact = Mapping[str, Any]
EXECUTIONS_SHOWN = 20


def goal_progress(facts: Iterable[Fact]) -> dict[str, dict[str, Any]]:
    """Each goal's progress record, with its definition and executions. The facts may
    come in any order that keeps each partition's own (the result does not depend on
    how partitions interleave)."""
    ordered = list(facts)
    definitions: dict[str, dict[int, GoalDefinition]] = {}
    for fact in ordered:
        if fact["kind"] == "defined":
            d = definition_from_json(dict(fact["definition"]))
            definitions.setdefault(d.goal_id, {})[d.version] = d
    states: dict[str, GoalState] = {}
    executions: dict[str, dict[int, set[str]]] = {}
    for fact in ordered:
        goal_id = str(fact["goal_id"])
        versions = definitions.get(goal_id)
        if not versions:
            continue  # facts of a definition this log no longer holds
        latest = versions[max(versions)]
        state = states.setdefault(goal_id, GoalState(goal_id))
        if apply_fact(state, latest, dict(fact)) and fact["kind"] == "decided":
            by_version = executions.setdefault(goal_id, {})
            by_version.setdefault(int(fact["version"]), set()).add(str(fact["execution_id"]))
    out: dict[str, dict[str, Any]] = {}
    for goal_id, state in sorted(states.items()):
        versions = definitions[goal_id]
        definition = versions.get(state.version) or versions[max(versions)]
        record = evaluate(state, definition)
        record["name"] = definition.name
        record["description"] = definition.description
        record["targets"] = {c.id: threshold(c.target) for c in definition.criteria}
        record["executions"] = sorted(executions.get(goal_id, {}).get(state.version, set()))
        out[goal_id] = record
    return out


def goal_line(record: Mapping[str, Any]) -> str:
    """One line: progress, criteria met, decisions, recommendation."""
    criteria = record["criteria_status"]
    met = sum(1 for c in criteria.values() if c["met"])
    decisions = record["metrics"]["total_decisions"]
    return (
        f"progress {float(record['overall_progress']):.0%}, {met}/{len(criteria)} criteria "
        f"met over {decisions} decisions → {record['recommendation']}"
    )


def goal_text(record: Mapping[str, Any]) -> str:
    """`agentfold goals show`, for a person."""
    m = record["metrics"]
    lines = [
        f"=== Goal {record['goal_id']} (version {record['version']}): {record['name']} ===",
    ]
    if record["description"]:
        lines.append(record["description"])
    lines += [
        "",
        f"Overall progress: {record['overall_progress']:.1%}   "
        f"Recommendation: {record['recommendation']}",
        "",
        "Criteria:",
    ]
    for cid, status in record["criteria_status"].items():
        mark = "met" if status["met"] else "not met"
        lines.append(
            f"  [{mark}] {cid}: {status['description']} — progress {status['progress']:.1%} "
            f"(target {record['targets'][cid]:.0%})"
        )
        lines += [f"      {e}" for e in status["evidence"]]
    violations = record["constraint_violations"]
    lines.append("")
    if violations:
        lines.append(f"Constraint violations ({record['violations_total']}):")
        lines += [
            f"  - {v['constraint_id']} in {v['execution_id']} at {v['time']}: {v['details']}"
            for v in violations
        ]
    else:
        lines.append("Constraint violations: none")
    lines += [
        "",
        f"Metrics: {m['total_decisions']} decisions, {m['successful_outcomes']} successful and "
        f"{m['failed_outcomes']} failed outcomes (success rate {m['success_rate']:.1%}), "
        f"{m['streams_active']} stream(s), {m['executions_total']} execution(s)",
    ]
    shown = record["executions"][:EXECUTIONS_SHOWN]
    if shown:
        more = len(record["executions"]) - len(shown)
        lines.append("Executions: " + ", ".join(shown) + (f" (+{more} more)" if more else ""))
    return "\n".join(lines)
