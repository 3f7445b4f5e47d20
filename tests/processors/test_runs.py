"""Runs: seeds 002/004 and hive's Run schema, with the seed bugs fixed."""

from __future__ import annotations

import pytest

from schemas.events import DecisionType, Option, OutcomeData, RunStatus
from schemas.outputs import RUNS
from tests.factory import Agent, fold_all, tick, values


def test_decision_types_and_statuses() -> None:
    assert [t.value for t in DecisionType] == [
        "tool_selection",
        "parameter_choice",
        "path_choice",
        "output_format",
        "retry_strategy",
        "delegation",
        "termination",
        "custom",
    ]
    assert [s.value for s in RunStatus] == [
        "running",
        "completed",
        "failed",
        "stuck",
        "cancelled",
        "timed_out",
    ]


def test_option_and_outcome_defaults() -> None:
    opt = Option(id="o")
    assert (
        opt.description,
        opt.action_type,
        opt.action_params,
        opt.pros,
        opt.cons,
        opt.confidence,
    ) == ("", "unknown", {}, [], [], 0.5)
    out = OutcomeData(decision_id="dec_0", success=True)
    assert (
        out.result,
        out.error,
        out.summary,
        out.state_changes,
        out.tokens_used,
        out.latency_ms,
    ) == (None, None, "", {}, 0, 0)


def test_decision_data_defaults() -> None:
    a = Agent()
    ev = a("decision", 0, decision_id="dec_0", intent="i")
    assert ev.data.node_id == "unknown"  # type: ignore[union-attr]
    assert ev.data.decision_type is DecisionType.CUSTOM  # type: ignore[union-attr]


def _run(events: list) -> object:
    _, out = fold_all(events)
    return values(out, RUNS)


def test_metrics_and_default_narrative_like_hive() -> None:
    a = Agent()
    d0, e0 = a.decide(1, "fetch", node="reader")
    d1, e1 = a.decide(2, "parse", node="parser")
    d2, e2 = a.decide(3, "write", node="reader")
    _d3, e3 = a.decide(4, "notify", node="mailer")  # never gets an outcome
    events = [
        a.start(0),
        e0,
        a("outcome", 1.5, decision_id=d0, success=True, tokens_used=10, latency_ms=5),
        e1,
        a("outcome", 2.5, decision_id=d1, success=False, error="bad", tokens_used=3, latency_ms=7),
        e2,
        a("outcome", 3.5, decision_id=d2, success=False),
        e3,
        a("problem", 5, problem_id="prob_0", severity="critical", description="disk full"),
        a("problem", 5, problem_id="prob_1", severity="warning", description="slow"),
        a("problem", 5, problem_id="prob_2", severity="minor", description="typo"),
        a.end(10, success=False),
    ]
    started, ended = _run(events)
    assert started.status == "running" and ended.status == "failed"
    m = ended.metrics
    assert (m.total_decisions, m.successful_decisions, m.failed_decisions) == (4, 1, 2)
    assert (m.total_tokens, m.total_latency_ms) == (13, 12)
    assert m.nodes_executed == ["reader", "parser", "mailer"]  # first-seen order
    assert m.success_rate == 0.25  # decisions without outcome count in the total
    assert ended.narrative == (
        "Run failed. Made 4 decisions: 1 succeeded, 2 failed. "
        "Critical issues: disk full Warnings: slow Failed on: parse, write, notify"
    )
    assert ended.duration_ms == 10 * 60_000
    assert ended.problem_count == 3


def test_completed_narrative_and_given_narrative_wins() -> None:
    a = Agent()
    _, ended = _run([a.start(0), a.end(1)])
    assert ended.narrative == "Run completed successfully. Made 0 decisions: 0 succeeded, 0 failed."
    assert ended.metrics.success_rate == 0.0
    b = Agent()
    _, ended = _run([b.start(0), b.end(1, narrative="All good.", output_data={"k": 1})])
    assert (ended.narrative, ended.output_data, ended.status) == (
        "All good.",
        {"k": 1},
        "completed",
    )


@pytest.mark.parametrize("status", ["stuck", "cancelled"])
def test_explicit_end_status(status: str) -> None:
    a = Agent()
    _, ended = _run([a.start(0), a.end(1, status=status)])
    assert ended.status == status
    assert ended.narrative.startswith("Run failed.")  # any status but completed


def test_a_repeated_outcome_applies_once() -> None:
    a = Agent()
    d, e = a.decide(1)
    events = [a.start(0), e, a.outcome(2, d, True), a.outcome(3, d, True), a.end(4)]
    _, ended = _run(events)
    assert (ended.metrics.successful_decisions, ended.metrics.total_decisions) == (1, 1)
    assert ended.ignored == {"outcome_without_pending_decision": 1}


def test_reused_execution_id_is_a_problem_not_an_overwrite() -> None:
    a = Agent()
    events = [a.start(0, goal_id="first"), a.start(5, goal_id="second")]
    _started, problem = _run(events)
    assert problem.goal_id == "first"
    assert problem.problems[0].severity == "warning"
    assert "again" in problem.problems[0].description


def test_run_times_out_after_24h_without_events() -> None:
    a = Agent()
    fold, out = fold_all([a.start(0), a("metric", 60, name="x", value=1), tick(60 + 24 * 60 - 1)])
    assert [r.status for r in values(out, RUNS)] == ["running"]
    (timed_out,) = values(fold.apply(tick(60 + 24 * 60)), RUNS)
    assert timed_out.status == "timed_out"
    assert timed_out.completed_at == "2026-11-23T08:30:00.000Z"
    assert timed_out.narrative.startswith("Run failed.")


def test_pending_decisions_are_bounded_and_evicted_ones_count_as_unsuccessful() -> None:
    from processors.config import FoldConfig

    a = Agent()
    decs = [a.decide(1 + i / 10, f"intent {i}") for i in range(5)]
    events = [a.start(0), *(e for _, e in decs), a.outcome(2, decs[0][0], True), a.end(3)]
    _, out = fold_all(events, FoldConfig(pending_decisions_cap=2))
    ended = values(out, RUNS)[-1]
    # dec_0..dec_2 were evicted before their outcome could apply
    assert ended.metrics.successful_decisions == 0
    assert ended.ignored == {"outcome_without_pending_decision": 1}
    assert ended.narrative.endswith("Failed on: intent 0, intent 1, intent 2")
