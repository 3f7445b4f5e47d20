"""The per-partition side of goal progress: definitions kept (newest version, capped,
restored with the partition), decisions of a defined goal's runs scored and emitted as
facts, numbered so a refold repeats the same numbers."""

from __future__ import annotations

from typing import Any

from processors.config import FoldConfig
from processors.fold import PartitionFold
from schemas.codec import decode_event, encode_event
from schemas.outputs import GOAL_FACTS
from schemas.records import Event
from schemas.timefmt import format_ms
from streams.folding.changelog import restore
from streams.folding.partition import LivePartition
from tests.factory import Agent, at, fold_all, values


def define(goal_id: str = "g", version: int = 1, minutes: float = 0, **data: Any) -> Event:
    return decode_event(
        {
            "specversion": "1.0",
            "id": f"goal:{goal_id}:v{version}",
            "source": "agentfold-goals",
            "type": "agentfold.goal_defined",
            "time": format_ms(at(minutes)),
            "data": {
                "goal_id": goal_id,
                "version": version,
                "name": goal_id,
                "success_criteria": [{"id": "sc", "description": "alpha beta", "target": "50%"}],
                **data,
            },
        }
    )


def facts(out: list[Any]) -> list[dict[str, Any]]:
    return [v.model_dump(mode="json", exclude_none=True) for v in values(out, GOAL_FACTS)]


def test_decisions_of_a_defined_goal_become_tallies() -> None:
    a, other = Agent("e1"), Agent("e2")
    events = [
        define(),
        a.start(1, goal_id="g"),
        other.start(1, goal_id="undefined-goal"),
        a("decision", 2, decision_id="d0", intent="alpha beta", node_id="n"),
        other("decision", 2, decision_id="x0", intent="alpha beta"),
        a("decision", 3, decision_id="d1", intent="unrelated"),
        a("decision", 3, decision_id="d0", intent="alpha beta"),  # id still pending: ignored
        a("outcome", 4, decision_id="d0", success=True),
        a("outcome", 5, decision_id="d0", success=False),  # repeated: counted once
    ]
    _, out = fold_all(events)  # a message per event: a tally per decision and outcome
    got = facts(out)
    assert [(f["kind"], f["seq"]) for f in got] == [
        ("defined", 1), ("tally", 2), ("tally", 3), ("tally", 4)
    ]  # fmt: skip
    evidence = [at(2), "e1", 0, "d0"]
    assert {k: got[1][k] for k in TALLY} == {
        "decisions": 1, "succeeded": 0, "failed": 0, "runs": ["e1"], "streams": [""],
        "criteria": {"sc": [1, 0, 0]}, "decided": [[*evidence, "alpha beta", ["sc"]]],
        "resolved": [],
    }  # fmt: skip
    assert {k: got[2][k] for k in TALLY} == {
        "decisions": 1, "succeeded": 0, "failed": 0, "runs": [], "streams": [""],
        "criteria": {}, "decided": [], "resolved": [],
    }  # fmt: skip
    assert {k: got[3][k] for k in TALLY} == {
        "decisions": 0, "succeeded": 1, "failed": 0, "runs": [], "streams": [],
        "criteria": {"sc": [0, 1, 1]}, "decided": [], "resolved": [[*evidence, True, ["sc"]]],
    }  # fmt: skip
    assert all(r.key == "g" for r in out if r.topic == GOAL_FACTS)


TALLY = ("decisions", "succeeded", "failed", "runs", "streams", "criteria", "decided", "resolved")


def test_a_message_is_one_tally_with_the_same_sums() -> None:
    a, b = Agent("e1"), Agent("e2")
    fold = PartitionFold(FoldConfig(), 0)
    fold.apply(define())
    out: list[Any] = []
    fold.apply_all(
        [
            a.start(1, goal_id="g", stream_id="s1"),
            a("decision", 2, decision_id="d0", intent="alpha beta"),
            a("decision", 2, decision_id="d1", intent="alpha beta gamma"),
            a("outcome", 3, decision_id="d0", success=True),
            a("outcome", 3, decision_id="d1", success=False),
            b.start(1, goal_id="g", stream_id="s2"),
            b("decision", 4, decision_id="d0", intent="no words in common"),
        ],
        out,
    )
    (tally,) = facts(out)
    assert {k: tally[k] for k in TALLY if k not in ("decided", "resolved")} == {
        "decisions": 3, "succeeded": 1, "failed": 1, "runs": ["e1", "e2"],
        "streams": ["s1", "s2"], "criteria": {"sc": [2, 2, 1]},
    }  # fmt: skip
    assert [d[3] for d in tally["decided"]] == ["d0", "d1"]
    assert [(r[3], r[4]) for r in tally["resolved"]] == [("d0", True), ("d1", False)]


def test_only_a_partitions_first_five_relevant_decisions_travel_as_evidence() -> None:
    a = Agent("e1")
    fold = PartitionFold(FoldConfig(), 0)
    fold.apply(define())
    fold.apply(a.start(0, goal_id="g"))
    decided: list[list[Any]] = []
    resolved: list[list[Any]] = []
    # minutes 10..16, then 12 again (a tie with the 3rd: may be evidence), then 9 (earlier)
    for i, minutes in enumerate([10, 11, 12, 13, 14, 15, 16, 12, 9]):
        out = fold.apply(a("decision", minutes, decision_id=f"d{i}", intent="alpha beta"))
        out += fold.apply(a("outcome", minutes, decision_id=f"d{i}", success=True))
        for tally in facts(out):
            decided += tally["decided"]
            resolved += tally["resolved"]
    candidates = ["d0", "d1", "d2", "d3", "d4", "d7", "d8"]
    assert [d[3] for d in decided] == [r[3] for r in resolved] == candidates
    assert fold.state.meta.evidence == {"g": {"sc": [at(m) for m in (9, 10, 11, 12, 12)]}}
    fold.apply(define(version=2, minutes=20))  # progress starts again
    assert fold.state.meta.evidence == {}
    out = fold.apply(a("decision", 21, decision_id="d9", intent="alpha beta"))
    assert [d[3] for t in facts(out) for d in t["decided"]] == ["d9"]


def test_only_a_newer_version_replaces_a_definition() -> None:
    fold = PartitionFold(FoldConfig(), 0)
    out = fold.apply(define(version=2))
    out += fold.apply(define(version=1, minutes=1))  # older: kept quietly
    out += fold.apply(define(version=2, minutes=2))  # the same again (every partition)
    out += fold.apply(define(version=3, minutes=3))
    assert [f["version"] for f in facts(out)] == [2, 3]
    assert fold.state.meta.goals["g"].version == 3 and not fold.refused


def test_definitions_beyond_the_cap_are_refused() -> None:
    fold = PartitionFold(FoldConfig(goals_cap=2), 0)
    for i in range(3):
        fold.apply(define(goal_id=f"g{i}", minutes=i))
    assert sorted(fold.state.meta.goals) == ["g0", "g1"]
    ((_, reason, error),) = fold.refused
    assert reason == "goal_limit" and "goals_cap" in error


def test_definitions_and_numbering_survive_a_restore() -> None:
    cfg = FoldConfig()
    live = LivePartition(cfg, 0)
    a = Agent("e1")
    lines = [
        define(),
        a.start(1, goal_id="g"),
        a("decision", 2, decision_id="d0", intent="alpha beta"),
    ]
    for offset, ev in enumerate(lines):
        live.process(b"e1" if ev.subject else None, encode_event(ev), "t", offset)
    writes = live.flush()
    table = {k: v for k, v in writes if v is not None}
    restored = restore(0, table.items()).state
    assert restored.meta.goals == live.fold.state.meta.goals
    assert restored.meta.facts == live.fold.state.meta.facts == 2
    assert restored.meta.evidence == live.fold.state.meta.evidence == {"g": {"sc": [at(2)]}}
    again = LivePartition(cfg, 0, table.items())
    result = again.process(
        b"e1", encode_event(a("outcome", 3, decision_id="d0", success=True)), "t", 3
    )
    (fact,) = [r.value for r in result.outputs if r.topic == GOAL_FACTS]
    assert fact["kind"] == "tally" and fact["seq"] == 3 and fact["criteria"] == {"sc": [0, 1, 1]}
    assert fact["resolved"] == [[at(2), "e1", 0, "d0", True, ["sc"]]]


BUDGETED = {
    "constraints": [
        {"id": "c-tokens", "description": "stay within 100 tokens", "check": "tokens <= 100"},
        {"id": "c-fail", "description": "fewer than 2 failures", "check": "failed_decisions < 2"},
        {"id": "c-polite", "description": "be polite", "constraint_type": "soft"},
        {"id": "c-text", "description": "no check the fold can run", "check": "tone is kind"},
    ]
}


def violations(out: list[Any]) -> list[tuple[str, str, str]]:
    return [
        (f["execution_id"], f["constraint_id"], f["details"])
        for f in facts(out)
        if f["kind"] == "violation"
    ]


def test_a_budget_is_violated_once_per_run_at_the_event_that_crossed_it() -> None:
    a, b = Agent("e1"), Agent("e2")
    events = [
        define(**BUDGETED),
        a.start(1, goal_id="g"),
        b.start(1, goal_id="g"),
        a("decision", 2, decision_id="d0", intent="x"),
        a("outcome", 3, decision_id="d0", success=True, tokens_used=60),
        a("decision", 4, decision_id="d1", intent="x"),
        a("outcome", 5, decision_id="d1", success=False, tokens_used=60),  # 120 > 100
        a("decision", 6, decision_id="d2", intent="x"),
        a("outcome", 7, decision_id="d2", success=False, tokens_used=500),  # again: no fact
        b("decision", 2, decision_id="d0", intent="x"),
        b("outcome", 3, decision_id="d0", success=True, tokens_used=100),  # at the limit: fine
    ]
    _, out = fold_all(events)
    assert violations(out) == [
        ("e1", "c-tokens", "tokens 120 > 100"),
        ("e1", "c-fail", "failed_decisions 2 > 1"),
    ]
    first = next(f for f in facts(out) if f["kind"] == "violation")
    assert first["time"] == format_ms(at(5)) and first["description"] == "stay within 100 tokens"


def test_a_problem_naming_a_constraint_violates_it() -> None:
    a, other = Agent("e1"), Agent("e2")
    events = [
        define(**BUDGETED),
        a.start(1, goal_id="g"),
        other.start(1, goal_id="undefined-goal"),
        a("problem", 2, problem_id="p0", severity="warning", description="rude reply",
          constraint_id="c-polite"),
        a("problem", 3, problem_id="p1", severity="warning", description="no such",
          constraint_id="c-unknown"),  # not a constraint of the goal: a problem only
        a("problem", 4, problem_id="p2", severity="minor", description="no constraint"),
        other("problem", 2, problem_id="p0", severity="warning", description="rude",
              constraint_id="c-polite"),  # its goal is not defined
    ]  # fmt: skip
    _, out = fold_all(events)
    assert violations(out) == [("e1", "c-polite", "rude reply")]


def test_checks_that_are_budgets_and_those_that_are_not() -> None:
    from processors.goals import budget

    assert budget("tokens <= 5000") == ("tokens", 5000)
    assert budget(" latency_ms<60000 ") == ("latency_ms", 59999)
    assert budget("decisions <= 0") == ("decisions", 0)
    for text in ("", "tokens >= 5", "cost <= 5", "tokens <= 5k", "tokens <= -1", "be kind"):
        assert budget(text) == ("", 0), text
