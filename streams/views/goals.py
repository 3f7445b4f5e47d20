"""Goal progress from goal facts (the `goalfacts` topic, or a replay's records): the
goal stage run offline over the whole set (processors/goals.py), and its text form."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from processors.goalstage import GoalSlot, fold_fact, goal_record
from schemas.outputs import GOALS, OutputRecord
from streams.views.render import goal_line

Fact = Mapping[str, Any]
EXECUTIONS_SHOWN = 20
__all__ = ["goal_line", "goal_progress", "goal_records", "goal_text"]


def _fold(
    facts: Iterable[Fact], executions: dict[str, dict[int, set[str]]] | None = None
) -> dict[str, GoalSlot]:
    goals: dict[str, GoalSlot] = {}
    for fact in facts:
        value = dict(fact)
        if fold_fact(goals, value) and executions is not None and value["kind"] == "tally":
            by_version = executions.setdefault(str(value["goal_id"]), {})
            by_version.setdefault(int(value["version"]), set()).update(map(str, value["runs"]))
    return goals


def goal_records(facts: Iterable[Fact]) -> list[OutputRecord]:
    """The `goals` topic's latest record of each goal, as the live goal stage writes
    it: the stage (processors/goalstage.py) run over the whole set. The facts may come
    in any order that keeps each partition's own (the result does not depend on how
    partitions interleave)."""
    return [
        OutputRecord(GOALS, goal_id, goal_record(slot))
        for goal_id, slot in sorted(_fold(facts).items())
        if slot.definition is not None
    ]


def goal_progress(facts: Iterable[Fact]) -> dict[str, dict[str, Any]]:
    """Each goal's record (`goal_records`), with its executions."""
    executions: dict[str, dict[int, set[str]]] = {}
    out: dict[str, dict[str, Any]] = {}
    for goal_id, slot in sorted(_fold(facts, executions).items()):
        if slot.definition is None:
            continue
        record = goal_record(slot)
        versions = executions.get(goal_id, {})
        record["executions"] = sorted(versions.get(slot.state.version, set()))
        out[goal_id] = record
    return out


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
