"""hive's RunSummary and BuilderQuery on runs folded from events: SEEDS-GOALS §3 and §4,
their worked example (checked against the upstream code) as the assertions."""

from __future__ import annotations

from typing import Any

from processors.config import FoldConfig
from schemas.records import Event
from streams.views.analysis import (
    analyze_failure,
    compare_runs,
    decision_trace,
    find_patterns,
    latest_runs,
    percent,
    recent_failures,
    suggest_improvements,
)
from tests.factory import Agent, fold_all, values

CRITICAL = "Processing failed due to empty input"


def ok_run(execution: str, start: float) -> list[Event]:
    a = Agent(execution)
    return [
        a.start(start, goal_id="g"),
        a(
            "decision",
            start + 1,
            decision_id="dec_0",
            node_id="search-node",
            intent="Search for data",
            options=[
                {"id": "web", "description": "Web search"},
                {"id": "cache", "description": "Use cache"},
            ],
            chosen_option_id="web",
        ),
        a("outcome", start + 2, decision_id="dec_0", success=True, tokens_used=50),
        a(
            "decision",
            start + 3,
            decision_id="dec_1",
            node_id="process-node",
            intent="Process results",
            options=[{"id": "filter", "description": "Filter and transform"}],
            chosen_option_id="filter",
        ),
        a("outcome", start + 4, decision_id="dec_1", success=True, tokens_used=30),
        a.end(start + 5, success=True),
    ]


def fail_run(execution: str, start: float) -> list[Event]:
    a = Agent(execution)
    return [
        a.start(start, goal_id="g"),
        a(
            "decision",
            start + 1,
            decision_id="dec_0",
            node_id="search-node",
            intent="Search for data",
            options=[{"id": "web", "description": "Web search"}],
            chosen_option_id="web",
        ),
        a("outcome", start + 2, decision_id="dec_0", success=True, tokens_used=20),
        a(
            "decision",
            start + 3,
            decision_id="dec_1",
            node_id="process-node",
            intent="Process results",
            options=[
                {"id": "process", "description": "Process data"},
                {"id": "skip", "description": "Skip step"},
            ],
            chosen_option_id="process",
            active_constraints=["c-1", "budget"],
        ),
        a(
            "outcome",
            start + 4,
            decision_id="dec_1",
            success=False,
            error="No data to process",
            latency_ms=120,
            tokens_used=20,
        ),
        a(
            "problem",
            start + 5,
            problem_id="p1",
            severity="critical",
            description=CRITICAL,
            suggested_fix="Add empty input handling",
        ),
        a("problem", start + 6, problem_id="p2", severity="warning", description="Slow search"),
        a.end(start + 7, success=False),
    ]


def five_runs() -> dict[str, dict[str, Any]]:
    events = (
        ok_run("run-1", 0)
        + fail_run("run-2", 10)
        + fail_run("run-3", 20)
        + ok_run("run-4", 30)
        + fail_run("run-5", 40)
    )
    _, out = fold_all(events)
    return dict(latest_runs(r.model_dump(mode="json") for r in values(out, "runs")))


def test_narratives_and_summaries() -> None:
    runs = five_runs()
    failed, ok = runs["run-2"], runs["run-1"]
    assert failed["narrative"] == (
        "Run failed. Made 2 decisions: 1 succeeded, 1 failed. Critical issues: Processing "
        "failed due to empty input Warnings: Slow search Failed on: Process results"
    )
    assert ok["narrative"] == "Run completed successfully. Made 2 decisions: 2 succeeded, 0 failed."
    assert failed["summary"]["key_decisions"] == ["✗ [process-node] Process results → Process data"]
    assert failed["summary"]["critical_problems"] == [CRITICAL]
    assert failed["summary"]["warnings"] == ["Slow search"]
    assert failed["summary"]["decision_count"] == 2 and failed["summary"]["success_rate"] == 0.5
    assert ok["summary"]["key_decisions"] == []


def test_analyze_failure_of_the_worked_example() -> None:
    runs = five_runs()
    analysis = analyze_failure(runs["run-2"])
    assert analysis is not None
    assert analysis.failure_point == "✗ [process-node] Process results → Process data"
    assert analysis.root_cause == "No data to process"
    assert analysis.decision_chain == [
        "✓ [search-node] Search for data → Web search",
        "✗ [process-node] Process results → Process data",
    ]
    assert analysis.problems == [f"[critical] {CRITICAL}", "[warning] Slow search"]
    assert analysis.suggestions == [
        "Consider alternative: 'Skip step' instead of 'Process data'",
        "Decision 'Process results' had no input context - ensure relevant data is passed",
        "Review constraints: c-1, budget - may be too restrictive",
        "Add empty input handling",
    ]
    text = analysis.text()
    assert text.startswith("=== Failure Analysis for run-2 ===\n\nFailure Point: ✗ [process-node]")
    assert "\n  2. ✗ [process-node] Process results → Process data\n" in text
    assert text.endswith(
        "Suggestions:\n  → Consider alternative: 'Skip step' instead of 'Process data'"
        "\n  → Decision 'Process results' had no input context - ensure relevant "
        "data is passed\n  → Review constraints: c-1, budget - may be too "
        "restrictive\n  → Add empty input handling"
    )
    assert analyze_failure(runs["run-1"]) is None  # only failed runs are analysed


def test_find_patterns_and_suggestions_of_the_worked_example() -> None:
    runs = list(five_runs().values())
    patterns = find_patterns("g", runs)
    assert patterns is not None
    assert patterns.run_count == 5 and patterns.success_rate == 0.4
    assert patterns.common_failures == [("No data to process", 3)]
    assert patterns.problematic_nodes == [("process-node", 0.6)]
    assert patterns.decision_patterns["decision_type_distribution"] == {"custom": 10}
    assert patterns.decision_patterns["common_choices"] == {
        "Search for data": {"choice": "Web search", "count": 5, "alternatives": 0},
        "Process results": {"choice": "Process data", "count": 3, "alternatives": 1},
    }
    perf = patterns.node_performance
    assert perf["process-node"] == {
        "total_decisions": 5,
        "success_rate": 0.4,
        "avg_latency_ms": 72.0,
        "total_tokens": 2 * 30 + 3 * 20,
    }
    assert perf["search-node"]["success_rate"] == 1.0
    assert perf["search-node"]["avg_latency_ms"] == 0.0
    assert patterns.text().splitlines() == [
        "=== Pattern Analysis for Goal g ===",
        "",
        "Runs Analyzed: 5",
        "Success Rate: 40.0%",
        "",
        "Common Failures:",
        "  - No data to process (3 occurrences)",
        "",
        "Problematic Nodes (failure rate):",
        "  - process-node: 60.0% failure rate",
    ]
    suggestions = suggest_improvements("g", runs)
    assert [(s["type"], s["reason"], s["priority"]) for s in suggestions] == [
        ("node_improvement", "Node has 60.0% failure rate", "high"),
        ("error_handling", "Error occurred 3 times", "medium"),
        ("architecture", "Goal success rate is only 40.0%", "high"),
    ]
    assert find_patterns("other", runs) is None and suggest_improvements("other", runs) == []


def test_compare_runs_and_recent_failures() -> None:
    runs = five_runs()
    compared = compare_runs(runs["run-1"], runs["run-2"])
    assert compared["differences"] == [
        "Status: completed vs failed",
        "Diverged at decision 1: chose 'filter' vs 'process'",
    ]
    assert compared["run_1"] == {
        "id": "run-1",
        "status": "completed",
        "decisions": 2,
        "success_rate": 1.0,
    }
    assert compare_runs(runs["run-1"], None) == {"error": "One or both runs not found"}
    # hive returned the oldest; these are the newest first (SEEDS-GOALS §5.16)
    assert [r["execution_id"] for r in recent_failures(runs.values(), 2)] == ["run-5", "run-3"]
    assert decision_trace(runs["run-1"]) == [
        "✓ [search-node] Search for data → Web search",
        "✓ [process-node] Process results → Filter and transform",
    ]


def test_edge_case_pending_and_errorless_failures() -> None:
    a = Agent("edge")
    events = [
        a.start(0),
        a("decision", 1, decision_id="d0", node_id="a", intent="pending one"),
        a("decision", 2, decision_id="d1", node_id="a", intent="no error"),
        a("outcome", 3, decision_id="d1", success=False),
        a("decision", 4, decision_id="d2", node_id="a", intent="fine"),
        a("outcome", 5, decision_id="d2", success=True, summary="all good"),
        a.end(6, success=False),
    ]
    _, out = fold_all(events)
    run = values(out, "runs")[-1].model_dump(mode="json")
    analysis = analyze_failure(run)
    assert analysis is not None
    assert analysis.failure_point == "✗ [a] pending one → unknown action"
    assert analysis.root_cause == "Unknown" and len(analysis.decision_chain) == 1
    assert run["narrative"].endswith(
        "Made 3 decisions: 1 succeeded, 1 failed. Failed on: pending one, no error"
    )
    # No DecisionEvaluation exists, so key decisions are the unsuccessful ones only.
    assert run["summary"]["key_decisions"] == [
        "✗ [a] pending one → unknown action",
        "✗ [a] no error → unknown action",
    ]
    assert run["summary"]["successes"] == ["all good"]


def test_summary_facts_stay_bounded() -> None:
    cfg = FoldConfig(summary_decisions_kept=4, summary_keys_cap=3)
    a = Agent("long")
    events = [a.start(0)]
    for i in range(50):
        events.append(
            a("decision", 1, decision_id=f"d{i}", node_id=f"n{i % 5}", intent=f"intent {i}")
        )
        events.append(a("outcome", 1, decision_id=f"d{i}", success=i % 2 == 0, error=f"e{i}"))
    events.append(a.end(2, success=False))
    _, out = fold_all(events, cfg)
    run = values(out, "runs")[-1].model_dump(mode="json")
    analysis = run["analysis"]
    assert [d["index"] for d in analysis["decisions"]] == [0, 1, 2, 3]
    assert [d["index"] for d in analysis["unsuccessful"]] == [1, 3, 5, 7]
    assert analysis["unsuccessful_total"] == 25
    assert len(analysis["errors"]) == 3 and len(analysis["choices"]) == 0
    assert len(run["summary"]["key_decisions"]) == 4
    assert percent(2 / 3) == "66.7%" and percent(0.0625) == "6.2%"
