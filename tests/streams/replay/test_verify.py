"""verify.compare without a broker: what counts as a difference and what does not."""

from __future__ import annotations

import orjson

from schemas.canonical import canonical_json
from streams.replay.verify import Entry, LiveSlot, compare, render_report


def rec(rid: str, key: str = "e1", **fields: object) -> Entry:
    return Entry(key, canonical_json({"id": rid, "execution_id": key, **fields}))


def test_identical_partitions_verify_and_redeliveries_are_not_differences() -> None:
    replay = {("stagnation", 0): [rec("a"), rec("b")]}
    live = {("stagnation", 0): LiveSlot([rec("a"), rec("a"), rec("b")])}
    report = compare(live, replay)
    assert report.ok and report.duplicates == 1
    assert "IDENTICAL" in render_report(report, "agentfold")


def test_a_changed_field_is_a_difference_named_in_the_report() -> None:
    replay = {("stagnation", 3): [rec("a", score=0.5), rec("b", score=0.25)]}
    live = {("stagnation", 3): LiveSlot([rec("a", score=0.5), rec("b", score=0.26)])}
    report = compare(live, replay)
    assert not report.ok
    d = report.differences[0]
    assert (d.topic, d.partition, d.index) == ("stagnation", 3, 1)
    text = render_report(report, "agentfold")
    assert "stagnation p3 #1" in text and "score: 0.26 ≠ 0.25" in text


def test_a_redelivery_with_other_content_is_a_difference() -> None:
    replay = {("healing", 0): [rec("a", status="planned")]}
    live = {("healing", 0): LiveSlot([rec("a", status="planned"), rec("a", status="x")])}
    report = compare(live, replay)
    assert not report.ok and "different content" in report.differences[0].what


def test_missing_and_extra_records_are_differences_with_a_hint() -> None:
    replay = {("runs", 1): [rec("a"), rec("b")], ("healing", 1): [rec("h")]}
    live = {("runs", 1): LiveSlot([rec("a"), rec("b"), rec("c")]), ("healing", 1): LiveSlot([])}
    report = compare(live, replay)
    whats = sorted(d.what for d in report.differences)
    assert whats == ["live has 1 more record(s)", "live lacks 1 record(s)"]
    assert any("worker caught up" in h for h in report.hints)
    assert any("does not explain" in h for h in report.hints)


def test_live_ahead_is_not_a_difference_only_where_input_was_appended_since() -> None:
    replay = {("stagnation", 2): [rec("a")], ("stagnation", 3): [rec("b")]}
    live = {
        ("stagnation", 2): LiveSlot([rec("a"), rec("tick-closed")]),
        ("stagnation", 3): LiveSlot([rec("b"), rec("unexplained")]),
    }
    report = compare(live, replay, grown={2})
    assert [(d.partition, d.what) for d in report.differences] == [(3, "live has 1 more record(s)")]
    assert report.slots[("stagnation", 2)].ahead == 1


def test_a_compacted_topic_is_compared_on_the_latest_record_per_key() -> None:
    replay = {("runs", 0): [rec("r1", "e1"), rec("r2", "e2"), rec("r3", "e1")]}
    compacted = {("runs", 0): LiveSlot([rec("r2", "e2"), rec("r3", "e1")])}
    assert compare(compacted, replay).ok
    wrong = {("runs", 0): LiveSlot([rec("r2", "e2"), rec("r1", "e1")])}
    assert not compare(wrong, replay).ok


def test_retention_removed_start_is_compared_from_the_first_surviving_record() -> None:
    replay = {("stagnation", 0): [rec("a"), rec("b"), rec("c")]}
    trimmed = {("stagnation", 0): LiveSlot([rec("b"), rec("c")], truncated=True)}
    report = compare(trimmed, replay)
    assert report.ok
    assert "retention" in report.slots[("stagnation", 0)].mode
    unknown = {("stagnation", 0): LiveSlot([rec("zz")], truncated=True)}
    assert not compare(unknown, replay).ok


def test_entries_compare_bytes_not_json_equality() -> None:
    a = Entry("k", orjson.dumps({"id": "a", "score": 1.0}))
    b = Entry("k", orjson.dumps({"id": "a", "score": 1}))
    assert not compare({("x", 0): LiveSlot([a])}, {("x", 0): [b]}).ok


def goal(key: str, progress: float) -> Entry:
    return Entry(key, canonical_json({"goal_id": key, "overall_progress": progress}))


def test_goals_are_compared_by_their_latest_record_per_goal() -> None:
    """The goal stage's intermediate records depend on how the folds' facts interleave;
    its latest per goal does not."""
    replay = {("goals", 1): [goal("g1", 0.5), goal("g2", 1.0)]}
    live = {
        ("goals", 1): LiveSlot([goal("g2", 0.2), goal("g1", 0.1), goal("g2", 1.0), goal("g1", 0.5)])
    }
    assert compare(live, replay).ok
    stale = {("goals", 1): LiveSlot([goal("g1", 0.5), goal("g2", 0.2)])}
    report = compare(stale, replay)
    assert [d.what for d in report.differences] == ["latest records for g2 differ"]
    missing = compare({("goals", 1): LiveSlot([goal("g1", 0.5)])}, replay)
    assert [d.what for d in missing.differences] == ["live has no record for g2"]
