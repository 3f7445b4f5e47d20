"""The SDK's run handle without a broker: the seeds' ids and defaults, stamping,
traceparent, and misuse (lenient: warning and ""; strict: RecorderError)."""

from __future__ import annotations

import logging

import pytest

from processors.config import FoldConfig
from processors.fold import PartitionFold
from schemas.events import Event
from schemas.records import from_model
from streams.sdk.run import RecorderError, Run, current_traceparent

T0 = 1_795_000_000_000
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def run(strict: bool = False) -> tuple[Run, list[Event]]:
    events: list[Event] = []
    clock = iter(range(T0, T0 + 10**9, 1000))
    handle = Run(lambda e: events.append(e) or True, "agent-1", "exec-1", "goal-1", strict,
                 lambda: next(clock))  # fmt: skip
    handle.start("a goal", {"q": 1})
    return handle, events


def test_ids_seq_time_and_source_are_stamped() -> None:
    r, events = run()
    d0 = r.decide("pick", [{"id": "a"}, {"id": "b"}], "a", "cheaper")
    d1 = r.quick_decision("post", "publish the draft", "ready")
    assert (d0, d1) == ("dec_0", "dec_1")
    assert r.report_problem("warning", "slow") == "prob_0"
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [e.id for e in events] == ["exec-1-1", "exec-1-2", "exec-1-3", "exec-1-4"]
    assert {e.source for e in events} == {"agent-1"} and {e.subject for e in events} == {"exec-1"}
    assert [e.time for e in events] == [T0, T0 + 1000, T0 + 2000, T0 + 3000]
    quick = events[2].data
    assert quick.options[0].action_type == "execute" and quick.chosen_option_id == "action"  # type: ignore[union-attr]


def test_node_defaults_to_the_current_node() -> None:
    r, events = run()
    r.decide("x", [], "", "")
    r.set_node("planner")
    r.decide("y", [], "", "")
    r.decide("z", [], "", "", node_id="writer")
    assert [e.data.node_id for e in events[1:]] == ["unknown", "planner", "writer"]  # type: ignore[union-attr]


def test_decide_and_execute_records_the_outcome_and_reraises() -> None:
    r, events = run()
    decision_id, result = r.decide_and_execute("add", [{"id": "a"}], "a", "r", lambda: 1 + 1)
    assert decision_id == "dec_0"
    assert result == 2 and events[-1].data.success and events[-1].data.result == 2  # type: ignore[union-attr]
    with pytest.raises(ZeroDivisionError):
        r.decide_and_execute("div", [{"id": "a"}], "a", "r", lambda: 1 / 0)
    failed = events[-1].data
    assert failed.success is False and "division by zero" in failed.error  # type: ignore[union-attr]


def test_decide_and_execute_passes_its_keywords_to_decide_as_the_seed_does() -> None:
    r, events = run()
    calls: list[tuple[object, ...]] = []
    r.decide_and_execute(
        "fetch", [{"id": "api"}], "api", "cheapest", lambda: calls.append(()) or "ok",
        node_id="fetcher", decision_type="tool_selection", constraints=["budget"],
    )  # fmt: skip
    assert calls == [()]  # the executor is called with no arguments
    decision = events[-2].data
    assert decision.node_id == "fetcher"  # type: ignore[union-attr]
    assert decision.decision_type == "tool_selection"  # type: ignore[union-attr]
    assert decision.active_constraints == ["budget"]  # type: ignore[union-attr]
    with pytest.raises(TypeError):
        r.decide_and_execute("x", [{"id": "a"}], "a", "r", lambda: 1, bogus=1)


def test_traceparent_of_the_current_context_is_propagated() -> None:
    r, events = run()
    token = current_traceparent.set(TRACE)
    try:
        r.metric("impressions", 3)
    finally:
        current_traceparent.reset(token)
    r.metric("impressions", 4)
    assert events[-2].traceparent == TRACE and events[-1].traceparent is None


def test_misuse_warns_and_returns_empty_or_raises_when_strict(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r, events = run()
    with caplog.at_level(logging.WARNING, logger="agentfold.sdk"):
        assert r.record_step("a1", confidence="very") == ""  # type: ignore[arg-type]
        assert r.end_run(True) == "ok"
        assert r.decide("late", [], "", "") == ""
        assert r.end_run(True) == ""
    assert "confidence" in caplog.text and "after end_run" in caplog.text
    assert events[-1].type == "agentfold.run_ended" and len(events) == 2
    strict, _ = run(strict=True)
    with pytest.raises(RecorderError, match=r"metric not recorded: data\.name"):
        strict.metric("", 1)


def test_what_the_sdk_records_folds_into_a_run() -> None:
    r, events = run()
    d = r.decide("pick", [{"id": "a"}], "a", "r")
    r.record_outcome(d, True, tokens_used=10)
    a = r.begin_action("research")
    r.record_step(a, "search", confidence=0.8)
    r.record_observation(a, "result", {"hits": 3})
    r.complete_action(a, {"ok": True})
    r.end_run(True)
    fold = PartitionFold(FoldConfig(), 0)
    outputs = [o for e in events for o in fold.apply(from_model(e))]
    runs = [o.value for o in outputs if o.topic == "runs"]
    assert runs[-1]["status"] == "completed" and runs[-1]["metrics"]["total_tokens"] == 10
    assert [o.value["action_id"] for o in outputs if o.topic == "attribution"] == [a]
