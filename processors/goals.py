"""Goal progress — hive's OutcomeAggregator (SEEDS-GOALS §2), as a fold over goal facts.

The per-partition fold sums what each message does to a goal — its decisions, their
outcomes, each scored against the goal's criteria — into a `tally` fact, and turns each
detected constraint violation into a `violation` fact (processors/goalfacts.py); this
module folds a goal's facts into its progress. Its state is counters and a few bounded
lists, every one of them a function of the *set* of decisions and outcomes, not of the
order partitions deliver them in: counts add up, the evidence is the first five
relevant decisions in a total order of decisions (event time, execution, decision
index, decision id), the violations kept are the first ones in the same kind of order.
A decision's facts come from one partition, in log order, so its outcome never
overtakes it.

Deliberate differences from upstream (SEEDS-GOALS §5): the id test is membership of
the decision's active constraints, not a substring of the list's text (§5.1); keywords
are distinct whole words, stop words aside (§5.2); numeric targets are honoured (§5.3);
a repeated outcome counts once and an outcome never arrives before its decision (the
per-partition fold applies each outcome once, to the decision waiting for it:
§5.5–§5.7); nothing depends
on a wall clock or on the order of a set (§5.8, §5.12); a new definition version starts
progress again, hard violations included (§5.9).

The per-partition side (definitions kept, facts emitted) is processors/goalfacts.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

DEFAULT_THRESHOLD: Final = 0.8  # a target that names no rate (G5)
COMPLETE_AT: Final = 0.95  # A17 rule 2
LOW_PROGRESS: Final = 0.3  # A17 rule 3
LOW_PROGRESS_DECISIONS: Final = 10  # A17 rule 3: more decisions than this
KEYWORD_HITS: Final = 2  # A8 (b)
EVIDENCE: Final = 5  # A11
_WORD = re.compile(r"[0-9a-z]+")
# Words that say nothing about what a criterion is about (upstream counted them: "the"
# and "a" made almost any two texts related, SEEDS-GOALS §5.2).
STOP_WORDS: Final = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "in", "is",
     "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "will",
     "with"}
)  # fmt: skip
_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*%+\s*$")


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    description: str
    type: str = "success_rate"
    target: Any = None
    weight: float = 1.0
    # the description's keywords, worked out once per definition (`keywords`); empty:
    # worked out at each use
    keywords: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Constraint:
    id: str
    description: str
    constraint_type: str = "hard"
    category: str = "general"
    check: str = ""
    # the budget `check` states, if it states one (`budget`): what is measured, and the
    # most a run may have of it; "" when the check is text the fold cannot evaluate
    metric: str = ""
    limit: int = 0

    @property
    def hard(self) -> bool:
        return self.constraint_type == "hard"  # G7: exactly "hard"


# What a constraint's check may bound, per run: the run's totals as the runs topic
# reports them.
BUDGET_METRICS: Final = ("tokens", "latency_ms", "decisions", "failed_decisions")
_BUDGET = re.compile(
    r"^\s*(tokens|latency_ms|decisions|failed_decisions)\s*(<=|<)\s*([0-9]{1,18})\s*$"
)


def budget(check: str) -> tuple[str, int]:
    """A check such as `tokens <= 5000` as (metric, the most a run may have): ("", 0)
    when it is not a budget (upstream never ran checks; other text stays text)."""
    m = _BUDGET.match(check)
    if m is None:
        return "", 0
    value = int(m.group(3))
    return m.group(1), value if m.group(2) == "<=" else value - 1


def constraint(
    cid: str, description: str, constraint_type: str, category: str, check: str
) -> Constraint:
    metric, limit = budget(check)
    return Constraint(cid, description, constraint_type, category, check, metric, limit)


@dataclass(frozen=True, slots=True)
class GoalDefinition:
    goal_id: str
    version: int
    name: str
    description: str
    criteria: tuple[Criterion, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    # (intent, reasoning) -> the criteria they bear on by keywords: agents repeat their
    # intents, and scoring one is most of what a decision of a defined goal costs. A
    # memo of a pure function, not state: never compared, never encoded.
    scored: dict[tuple[str, str], list[str]] = field(
        default_factory=dict, compare=False, repr=False
    )


def definition_from_event(data: Any, text_max: int) -> GoalDefinition:
    """A goal_defined event's definition (schemas.records.GoalDefinedData), texts capped."""

    def cap(text: str) -> str:
        return text if len(text) <= text_max else text[:text_max] + "..."

    criteria = tuple(
        Criterion(
            c.id,
            cap(c.description),
            c.type,
            _plain_target(c.target),
            float(c.weight),
            keywords(cap(c.description)),
        )
        for c in data.success_criteria
    )
    constraints = tuple(
        constraint(c.id, cap(c.description), c.constraint_type, c.category, cap(c.check))
        for c in data.constraints
    )
    return GoalDefinition(
        data.goal_id,
        int(data.version),
        cap(data.name),
        cap(data.description),
        criteria,
        constraints,
    )


def _plain_target(target: Any) -> Any:
    """Targets are kept only as what `threshold` reads: a string, a number, or None."""
    if isinstance(target, str):
        return target[:64]
    if isinstance(target, bool) or not isinstance(target, int | float):
        return None
    return target


def definition_json(d: GoalDefinition) -> dict[str, Any]:
    return {
        "goal_id": d.goal_id,
        "version": d.version,
        "name": d.name,
        "description": d.description,
        "success_criteria": [
            {"id": c.id, "description": c.description, "type": c.type, "target": c.target,
             "weight": c.weight}
            for c in d.criteria
        ],
        "constraints": [
            {"id": c.id, "description": c.description, "constraint_type": c.constraint_type,
             "category": c.category, "check": c.check}
            for c in d.constraints
        ],
    }  # fmt: skip


def definition_from_json(o: dict[str, Any]) -> GoalDefinition:
    return GoalDefinition(
        str(o["goal_id"]),
        int(o["version"]),
        str(o["name"]),
        str(o["description"]),
        tuple(
            Criterion(
                str(c["id"]),
                str(c["description"]),
                str(c["type"]),
                c["target"],
                float(c["weight"]),
                keywords(str(c["description"])),
            )
            for c in o["success_criteria"]
        ),
        tuple(
            constraint(
                str(c["id"]),
                str(c["description"]),
                str(c["constraint_type"]),
                str(c["category"]),
                str(c["check"]),
            )
            for c in o["constraints"]
        ),
    )


def threshold(target: Any) -> float:
    """The rate a criterion's target asks for (G5, with numbers honoured): "90%" → 0.9;
    a number in [0, 1] is the rate, one in (1, 100] a percentage; the string of such a
    number likewise; anything else 0.8."""
    if isinstance(target, bool):
        return DEFAULT_THRESHOLD
    if isinstance(target, str):
        m = _PERCENT.match(target)
        if m is not None:
            return float(m.group(1)) / 100
        try:
            target = float(target)
        except ValueError:
            return DEFAULT_THRESHOLD
    if isinstance(target, int | float) and target == target:  # not NaN
        value = float(target)
        if 0 <= value <= 1:
            return value
        if 1 < value <= 100:
            return value / 100
    return DEFAULT_THRESHOLD


def keywords(description: str) -> frozenset[str]:
    """A criterion's keywords: the distinct lower-case words of its description, stop
    words aside."""
    return frozenset(_WORD.findall(description.lower())) - STOP_WORDS


SCORED_MEMO: Final = 1024  # (intent, reasoning) pairs remembered per definition


def relevant_criteria(
    definition: GoalDefinition, intent: str, reasoning: str, active_constraints: list[str]
) -> list[str]:
    """The criteria a decision bears on (A8, fixed): its id is one of the decision's
    active constraints, or at least two of its keywords are words of the decision's
    intent and reasoning. Only success_rate criteria are evaluated (A7)."""
    memo = definition.scored
    key = (intent, reasoning)
    by_words = memo.get(key)
    if by_words is None:
        by_words = _by_keywords(definition, intent, reasoning)
        if len(memo) >= SCORED_MEMO:
            memo.clear()
        memo[key] = by_words
    if not active_constraints:
        return list(by_words)
    return [
        c.id
        for c in definition.criteria
        if c.type == "success_rate" and (c.id in active_constraints or c.id in by_words)
    ]


def _by_keywords(definition: GoalDefinition, intent: str, reasoning: str) -> list[str]:
    words = set(_WORD.findall(intent.lower()))
    if reasoning:
        words.update(_WORD.findall(reasoning.lower()))
    out = []
    for c in definition.criteria:
        if c.type != "success_rate":
            continue
        hits = 0
        for word in c.keywords or keywords(c.description):
            if word in words:
                hits += 1
                if hits >= KEYWORD_HITS:
                    out.append(c.id)
                    break
    return out


# ─── the goal's state ──────────────────────────────────────────────────────────────

# A decision's place in the total order of decisions: (event time, execution, index,
# decision id) — unique, whichever partition a decision comes from.
Order = tuple[int, str, int, str]


@dataclass(slots=True)
class CriterionAcc:
    relevant: int = 0  # decisions relevant to it
    resolved: int = 0  # of those, with an outcome
    succeeded: int = 0
    # the first EVIDENCE relevant decisions: order -> [decision_id, intent, outcome|None]
    first: dict[Order, list[Any]] = field(default_factory=dict)


@dataclass(slots=True)
class GoalState:
    goal_id: str
    version: int = 0
    decisions: int = 0
    succeeded: int = 0
    failed: int = 0
    executions: int = 0  # distinct (stream, execution) pairs with a decision
    streams: dict[str, None] = field(default_factory=dict)  # distinct stream ids, capped
    criteria: dict[str, CriterionAcc] = field(default_factory=dict)
    violations: list[dict[str, Any]] = field(default_factory=list)  # the first, in order
    violations_total: int = 0
    hard_violated: bool = False
    # per source partition, the number of the last fact applied (redelivery is skipped)
    applied: dict[int, int] = field(default_factory=dict)


def apply_fact(
    state: GoalState,
    definition: GoalDefinition,
    fact: dict[str, Any],
    streams_cap: int = 64,
    violations_kept: int = 20,
) -> bool:
    """Fold one fact; False if it was skipped (redelivered, or of another version)."""
    version = int(fact["version"])
    position = int(fact["seq"])
    source = int(fact["partition"])
    if position <= state.applied.get(source, 0):
        return False  # applied already (a refold emits the same facts again)
    if version < state.version:
        return False  # the definition changed since: facts of the old one no longer count
    if version > state.version:
        _reset(state, version)
    state.applied[source] = position
    kind = fact["kind"]
    if kind == "tally":
        _apply_tally(state, fact, streams_cap)
    elif kind == "violation":
        state.violations_total += 1
        hard = any(c.id == fact["constraint_id"] and c.hard for c in definition.constraints)
        state.hard_violated = state.hard_violated or hard
        kept = state.violations
        violation = {k: fact[k] for k in ("constraint_id", "description", "details", "time")}
        violation["execution_id"] = fact["execution_id"]
        violation["stream_id"] = fact["stream_id"]
        kept.append(violation)
        kept.sort(key=lambda v: (v["time"], v["execution_id"], v["constraint_id"], v["details"]))
        del kept[violations_kept:]
    return True


def _apply_tally(state: GoalState, fact: dict[str, Any], streams_cap: int) -> None:
    """A message's decisions and outcomes for the goal, summed (processors/goalfacts.py):
    its evidence candidates in, then their outcomes. Read whole before anything is
    applied, so a malformed fact changes nothing."""
    counts = [int(fact[k]) for k in ("decisions", "succeeded", "failed")]
    runs = len(fact["runs"])
    streams = [str(s) for s in fact["streams"]]
    sums = [(str(cid), int(a), int(b), int(c)) for cid, (a, b, c) in fact["criteria"].items()]
    scored = {cid for cid, *_ in sums}
    decided = [
        ((int(t), str(x), int(i), str(d)), str(intent), [str(c) for c in cids])
        for t, x, i, d, intent, cids in fact["decided"]
    ]
    resolved = [
        ((int(t), str(x), int(i), str(d)), bool(ok), [str(c) for c in cids])
        for t, x, i, d, ok, cids in fact["resolved"]
    ]
    if any(c not in scored for _, _, cids in decided for c in cids):
        raise ValueError("a tally's evidence names a criterion it does not count")
    state.decisions += counts[0]
    state.succeeded += counts[1]
    state.failed += counts[2]
    state.executions += runs
    kept = state.streams
    for stream in streams:
        if stream not in kept and len(kept) < streams_cap:
            kept[stream] = None
    criteria = state.criteria
    for cid, relevant, resolved_n, succeeded in sums:
        acc = criteria.get(cid)
        if acc is None:
            acc = criteria[cid] = CriterionAcc()
        acc.relevant += relevant
        acc.resolved += resolved_n
        acc.succeeded += succeeded
    for order, intent, cids in decided:
        for cid in cids:
            first = criteria[cid].first
            if len(first) < EVIDENCE or order < max(first):
                first[order] = [order[3], intent, None]
                if len(first) > EVIDENCE:
                    del first[max(first)]
    for order, ok, cids in resolved:
        for cid in cids:
            acc = criteria.get(cid)
            entry = acc.first.get(order) if acc is not None else None
            if entry is not None:
                entry[2] = ok


def _reset(state: GoalState, version: int) -> None:
    """A new definition: progress starts again (the redelivery positions stay)."""
    state.version = version
    state.decisions = state.succeeded = state.failed = state.executions = 0
    state.streams = {}
    state.criteria = {}
    state.violations = []
    state.violations_total = 0
    state.hard_violated = False


def evaluate(state: GoalState, definition: GoalDefinition) -> dict[str, Any]:
    """The goal's progress record (A7–A17), a function of its state alone."""
    total_weight = 0.0
    credit = 0.0
    criteria: dict[str, Any] = {}
    for c in definition.criteria:
        total_weight += c.weight
        acc = state.criteria.get(c.id)
        met = False
        progress = 0.0
        evidence: list[str] = []
        if c.type == "success_rate" and acc is not None and acc.relevant:
            if acc.resolved:
                progress = acc.succeeded / acc.resolved
                for key in sorted(acc.first):
                    decision_id, intent, ok = acc.first[key]
                    if ok is not None:
                        result = "success" if ok else "failed"
                        evidence.append(
                            f"decision_id={decision_id}, intent={intent}, result={result}"
                        )
            met = progress >= threshold(c.target)
        credit += c.weight if met else c.weight * progress
        criteria[c.id] = {
            "description": c.description,
            "met": met,
            "progress": progress,
            "evidence": evidence,
        }
    overall = credit / total_weight if total_weight > 0 else 0.0
    if state.hard_violated:
        recommendation = "adjust"
    elif overall >= COMPLETE_AT:
        recommendation = "complete"
    elif overall < LOW_PROGRESS and state.decisions > LOW_PROGRESS_DECISIONS:
        recommendation = "adjust"
    else:
        recommendation = "continue"
    resolved = state.succeeded + state.failed
    return {
        "goal_id": state.goal_id,
        "version": state.version,
        "overall_progress": overall,
        "criteria_status": criteria,
        "constraint_violations": list(state.violations),
        "violations_total": state.violations_total,
        "metrics": {
            "total_decisions": state.decisions,
            "successful_outcomes": state.succeeded,
            "failed_outcomes": state.failed,
            "success_rate": state.succeeded / max(1, resolved),
            "streams_active": len(state.streams),
            "executions_total": state.executions,
        },
        "recommendation": recommendation,
    }
