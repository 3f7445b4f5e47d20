"""Seed 001's attribution rules, with the seed's bugs fixed as docs/rules.md lists."""

from __future__ import annotations

import math

import pytest

from processors.attribution import credits, success_score
from processors.bounds import truncate_values
from processors.config import FoldConfig
from processors.limits import Limits
from schemas.errors import DecodeError
from schemas.outputs import ATTRIBUTION
from tests.factory import Agent, at, fold_all, tick, values

CFG = FoldConfig()


def test_caps_and_ttl_defaults() -> None:
    assert CFG.action_ttl_s == 21600
    assert CFG.max_open_actions == 500
    assert CFG.max_steps_per_action == 1000
    assert CFG.summary_keep == 50


@pytest.mark.parametrize(
    ("confidences", "expected"),
    [
        ([0.5, 0.5, 0.5], [0.2989, 0.3321, 0.369]),
        ([0.0, 1.0], [0.3103, 0.6897]),
        ([], []),
        ([1.0], [1.0]),
    ],
)
def test_credits(confidences: list[float], expected: list[float]) -> None:
    got, raw, total = credits(confidences)
    assert got == expected
    if confidences:
        n = len(confidences)
        assert raw == [0.9 ** (n - 1 - i) * (0.5 + 0.5 * c) for i, c in enumerate(confidences)]
        assert total == pytest.approx(sum(raw))


@pytest.mark.parametrize(
    ("expected", "outcome", "score"),
    [
        ({}, {}, 0.5),
        ({}, {"status": "error"}, 0.0),
        ({}, {"error": "boom"}, 0.0),
        ({}, {"error": ""}, 0.5),  # falsy error is no error
        ({}, {"status": "timeout"}, 0.2),
        ({"x": 1}, {"error": "boom", "x": 1}, 0.0),
        ({"x": 0}, {"x": 0.05}, 1.0),  # 0.05 absolute
        ({"x": 0}, {"x": 0.0501}, 0.0),
        ({"x": 100}, {"x": 110}, 1.0),  # 10 % relative
        ({"x": 100}, {"x": 110.5}, 0.0),
        ({"x": 1, "y": "ok"}, {"x": 1, "y": "ok"}, 1.0),
        ({"x": 1, "y": "ok"}, {"x": 1, "y": "no"}, 0.5),
        ({"x": 1, "y": None}, {"x": 1, "y": None}, 0.5),  # a None actual never matches
        ({"x": 1}, {}, 0.0),
        ({"ok": True}, {"ok": True}, 1.0),
    ],
)
def test_success_score(expected: dict, outcome: dict, score: float) -> None:
    assert success_score(expected, outcome) == score


def test_truncation_of_top_level_values() -> None:
    long_list = list(range(400))
    got = truncate_values({"s": "x" * 501, "ok": "y" * 500, "l": long_list, "n": 3}, Limits(CFG))
    assert got["s"] == "x" * 500 + "..."
    assert got["ok"] == "y" * 500
    assert got["l"] == str(long_list)[:1000] + "..."
    assert got["n"] == 3
    assert truncate_values({"d": {"a": 1}}, Limits(CFG)) == {"d": {"a": 1}}


def _action(a: Agent, minutes: float, action_id: str = "act-1", **data: object):
    return a("action_started", minutes, action_id=action_id, action_type="research", **data)


def test_chain_on_completion_with_every_field() -> None:
    a = Agent(source="agent-r")
    events = [
        a.start(0, goal_id="goal-9"),
        _action(
            a,
            1,
            expected_outcome={"sources": 3},
            acceptance_criteria=["3 sources"],
            parent_action_id="act-0",
        ),
        *[
            a("step", 2 + i, action_id="act-1", description=f"s{i}", confidence=0.5)
            for i in range(3)
        ],
        a(
            "observation",
            6,
            action_id="act-1",
            observation_type="sensor",
            data={"v": 1},
            source="probe",
            confidence=7.0,
        ),
        a("action_completed", 10, action_id="act-1", outcome={"sources": 3}),
    ]
    _, out = fold_all(events)
    (chain,) = values(out, ATTRIBUTION)
    assert chain.step_credits == [0.2989, 0.3321, 0.369]
    assert chain.success_score == 1.0
    assert chain.duration_seconds == 540.0
    assert (chain.step_count, chain.observation_count, chain.closed_by) == (3, 1, "completed")
    assert chain.observations[0].confidence == 1.0  # clamped
    assert chain.summary == (
        "agent-r ran research (goal=goal-9, parent=act-0, steps=3, observations=1, success=1.0)"
    )
    assert chain.parent_action_id == "act-0" and chain.goal_id == "goal-9"
    assert chain.normalizer == pytest.approx(sum(chain.raw_weights))
    rec = next(r for r in out if r.topic == ATTRIBUTION)
    assert rec.key == "act-1"


def test_step_strings_truncated_and_confidence_clamped() -> None:
    a = Agent()
    events = [
        a.start(0),
        _action(a, 1),
        a("step", 2, action_id="act-1", description="d" * 600, decision="c" * 300, confidence=-3),
        a("action_completed", 3, action_id="act-1"),
    ]
    _, out = fold_all(events)
    (step,) = values(out, ATTRIBUTION)[0].steps_summary
    assert (len(step.desc), len(step.decision), step.confidence) == (500, 200, 0.0)


def test_nan_confidence_is_rejected_at_decode() -> None:
    a = Agent()
    with pytest.raises(DecodeError) as err:
        a("step", 1, action_id="a", confidence=math.nan)
    assert err.value.reason == "schema_violation"


def test_last_50_steps_are_credited_by_global_index() -> None:
    a = Agent()
    events = [a.start(0), _action(a, 1)]
    events += [
        a("step", 1 + i / 100, action_id="act-1", description=f"s{i}", confidence=(i % 10) / 10)
        for i in range(80)
    ]
    events.append(a("action_completed", 5, action_id="act-1"))
    _, out = fold_all(events)
    (chain,) = values(out, ATTRIBUTION)
    assert len(chain.steps_summary) == 50
    assert [s.index for s in chain.steps_summary] == list(range(30, 80))
    for s in chain.steps_summary:
        assert s.credit == chain.step_credits[s.index]
        assert s.desc == f"s{s.index}"


def test_steps_and_observations_share_the_1000_cap() -> None:
    cfg = FoldConfig(max_steps_per_action=4)
    a = Agent()
    events = [a.start(0), _action(a, 1)]
    events += [a("observation", 2, action_id="act-1", observation_type="t") for _ in range(3)]
    events += [a("step", 3, action_id="act-1") for _ in range(2)]  # only one fits
    events += [a("observation", 4, action_id="act-1", observation_type="t")]  # full
    events.append(a("action_completed", 5, action_id="act-1"))
    fold, out = fold_all(events, cfg)
    (chain,) = values(out, ATTRIBUTION)
    assert (chain.step_count, chain.observation_count) == (1, 3)
    assert fold.state.execs["exec-1"].run.ignored == {
        "step_cap_reached": 1,
        "observation_cap_reached": 1,
    }


def test_ttl_closes_action_after_six_hours_of_stream_time() -> None:
    a = Agent()
    fold, out = fold_all([a.start(0), _action(a, 1), tick(1 + 359.99)])
    assert values(out, ATTRIBUTION) == []
    (chain,) = values(fold.apply(tick(1 + 360)), ATTRIBUTION)
    assert (chain.outcome, chain.closed_by, chain.success_score) == (
        {"status": "timeout"},
        "timeout",
        0.2,
    )
    assert chain.duration_seconds == 21600.0


def test_eviction_closes_oldest_open_action_in_the_partition() -> None:
    cfg = FoldConfig(max_open_actions=2)
    a, b = Agent("exec-a"), Agent("exec-b")
    events = [
        a.start(0),
        b.start(0),
        _action(b, 2, "b-late"),
        _action(a, 1, "a-early"),
        _action(a, 3, "a-new"),
    ]
    fold, out = fold_all(events, cfg)
    (chain,) = values(out, ATTRIBUTION)
    assert chain.action_id == "a-early"  # oldest by start time, not by arrival
    assert chain.outcome == {"status": "evicted", "reason": "max_open_actions"}
    assert chain.closed_by == "evicted"
    assert sorted(fold.state.open_actions) == ["a-new", "b-late"]


def test_unknown_action_events_are_counted_not_applied() -> None:
    a = Agent()
    fold, out = fold_all(
        [a.start(0), a("step", 1, action_id="nope"), a("action_completed", 2, action_id="nope")]
    )
    assert values(out, ATTRIBUTION) == []
    assert fold.state.execs["exec-1"].run.ignored == {
        "step_unknown_action": 1,
        "completion_unknown_action": 1,
    }


def test_at_is_minutes() -> None:
    assert at(1) - at(0) == 60_000


def test_observation_labels_truncated_to_100() -> None:
    a = Agent()
    events = [
        a.start(0),
        _action(a, 1),
        a(
            "observation",
            2,
            action_id="act-1",
            observation_type="t" * 150,
            source="s" * 101,
            data={"blob": "b" * 600},
        ),
        a("action_completed", 3, action_id="act-1"),
    ]
    _, out = fold_all(events)
    (obs,) = values(out, ATTRIBUTION)[0].observations
    assert (len(obs.observation_type), len(obs.source)) == (100, 100)
    assert obs.data["blob"] == "b" * 500 + "..."


def test_summary_rounds_success_to_two_places_and_duration_to_two_decimals() -> None:
    a = Agent()
    events = [
        a.start(0),
        _action(a, 1, expected_outcome={"x": 1, "y": 2, "z": 3}),
        a(
            "action_completed",
            1 + 12.3456 / 60,
            action_id="act-1",
            outcome={"x": 1, "y": 2, "z": 99},
        ),
    ]
    _, out = fold_all(events)
    (chain,) = values(out, ATTRIBUTION)
    assert chain.success_score == 2 / 3
    assert chain.summary.endswith("success=0.67)")
    assert chain.duration_seconds == 12.35  # 12.345 s in ms precision → 2 dp
