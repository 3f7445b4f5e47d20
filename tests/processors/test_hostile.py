"""Valid but hostile input: each defect found by trying the fold as a new user would,
pinned at its root (the fold), and through the drivers where a dead letter results."""

from __future__ import annotations

import orjson

from processors.config import FoldConfig
from schemas.codec import encode_event
from schemas.outputs import DEADLETTER, HEALING, STAGNATION
from streams.folding import LivePartition, OfflineFold
from tests.factory import Agent, at, fold_all, tick, values


def _attempt(subject: str, minutes: float) -> bytes:
    from tests.processors.test_healing import _report

    return encode_event(_report(subject, "sheal_" + "ab" * 16, 1, "success", minutes))


def test_an_attempt_for_an_unknown_execution_leaves_no_state_and_is_dead_lettered() -> None:
    from tests.processors.test_healing import _report

    stray = _report("exec-nobody", "sheal_" + "ab" * 16, 1, "success", 5)
    fold, out = fold_all([stray])
    assert fold.state.execs == {} and out == []
    assert [(ev.id, reason) for ev, reason, _ in fold.refused] == [(stray.id, "unknown_execution")]

    live = LivePartition(FoldConfig(), 0)
    result = live.process(b"exec-nobody", _attempt("exec-nobody", 5), "t", 0)
    (letter,) = values(result.outputs, DEADLETTER)
    assert (letter.reason, letter.key, letter.id) == (
        "unknown_execution",
        "exec-nobody",
        "dl:t/0/0#e0",
    )
    assert result.rejected == {"unknown_execution": 1} and live.fold.state.execs == {}
    assert live.fold.refused == []

    offline = OfflineFold(FoldConfig(), 1)
    (emitted,) = list(offline.feed_line(7, _attempt("exec-nobody", 5)))
    assert emitted.record.topic == DEADLETTER and emitted.record.value["id"] == "dl:-:7#e0"
    assert offline.stats.rejected == 1


def test_a_backlog_delivered_behind_stream_time_is_late_not_silence() -> None:
    """exec-late's events come in order but ten hours behind the partition's clock:
    they update its run and count as late; no window of its scores silence, nothing is
    planned for it and none of its events is dropped as too far ahead."""
    now, late = Agent("exec-now"), Agent("exec-late", source="agent-2")
    events = [now.start(600), *now.pair(601, 0, 0)]
    events += [late.start(0), *late.pair(1, 0, 0), *late.pair(100, 500, 0), *late.pair(200, 900, 0)]
    d, decision = late.decide(201)
    events += [decision, late.outcome(202, d, True), tick(610)]
    fold, out = fold_all(events)
    assert [s.execution_id for s in values(out, STAGNATION)] == []
    assert [h for h in values(out, HEALING) if h.execution_id == "exec-late"] == []
    ex = fold.state.execs["exec-late"]
    assert ex.run.late_events == 9 and ex.windows == {}
    assert "too_far_ahead" not in ex.run.ignored
    assert (ex.run.total_decisions, ex.run.successful) == (1, 1)  # the run is folded
    # Once its events reach the present, its windows open and close as anyone's.
    events += [*late.pair(601, 1000, 10), *late.pair(602, 1100, 20), *late.pair(603, 1200, 30)]
    events.append(tick(690.5))
    _, out = fold_all(events)
    scored = [s for s in values(out, STAGNATION) if s.execution_id == "exec-late"]
    assert [(s.signal, s.late_events) for s in scored] == [("metric_ratio", 9)]


def test_an_execution_id_reused_after_its_run_was_released_is_a_new_run() -> None:
    """The second run under the id is folded as a run of its own — its SDK restarts
    ids and seqs at 1 — with output ids that cannot collide with the first run's; an
    event of the first run redelivered afterwards changes nothing."""
    first, second = Agent("exec-r"), Agent("exec-r")
    d0, decided = first.decide(2)
    events = [first.start(0), decided, first.outcome(3, d0, False), first.end(10, False), tick(91)]
    fold, out = fold_all(events)
    assert "exec-r" in fold.state.meta.closed  # released
    d1, again = second.decide(202)
    later = [second.start(200), again, second.outcome(203, d1, True), second.end(210)]
    redelivered = decided  # the first run's decision, seq 2, comes again
    for ev in [*later, redelivered, tick(301)]:
        out.extend(fold.apply(ev))
    runs = [r for r in values(out, "runs") if r.status != "running"]
    assert [(r.id, r.status.value, r.metrics.successful_decisions) for r in runs] == [
        ("run:exec-r:failed", "failed", 0),
        ("run:exec-r#2:completed", "completed", 1),
    ]
    ids = [r.value["id"] for r in out]
    assert len(ids) == len(set(ids))
    assert fold.state.meta.after_close == 0 and fold.state.meta.duplicates == 1
    assert fold.state.meta.closed["exec-r"][3] == 2  # the second run was released too


def test_the_run_count_of_a_reused_id_survives_a_restore() -> None:
    from streams.folding.changelog import restore

    first = Agent("exec-r")
    live = LivePartition(FoldConfig(), 0)
    for offset, ev in enumerate([first.start(0), first.end(10), tick(91)]):
        live.process(ev.subject.encode() if ev.subject else None, encode_event(ev), "t", offset)
    table = dict(live.flush())
    restored = restore(0, table.items()).state
    assert restored.meta.closed == live.fold.state.meta.closed
    second = Agent("exec-r")
    again = LivePartition(FoldConfig(), 0, table.items())
    result = again.process(b"exec-r", encode_event(second.start(200)), "t", 3)
    (run,) = values(result.outputs, "runs")
    assert run.id == "run:exec-r#2:started"
    back = restore(0, [*table.items(), *again.flush()]).state.execs["exec-r"]
    assert (back.incarnation, back.born_ms) == (2, live.fold.state.meta.stream_ms)


def _future(agent: Agent) -> bytes:
    """One event of `agent` stamped in 2099."""
    from schemas.timefmt import parse_rfc3339_ms

    event = agent.metric(0, "impressions", 1)
    raw = orjson.loads(encode_event(event))
    raw["time"] = "2099-01-01T00:00:00Z"
    assert parse_rfc3339_ms(raw["time"]) > at(10**6)
    return orjson.dumps(raw)


def test_one_clock_far_ahead_cannot_move_the_partitions_time() -> None:
    """exec-bad's single event stamped in 2099, in a message sent now: dead-lettered as
    clock_skew; stream time, and every other execution's windows, stay where they were."""
    good, bad = Agent("exec-good"), Agent("exec-bad", source="agent-2")
    live = LivePartition(FoldConfig(), 0)
    now = at(5)
    for offset, ev in enumerate([good.start(0), *good.pair(1, 10, 1), bad.start(2)]):
        live.process(ev.subject.encode(), encode_event(ev), "t", offset, timestamp_ms=now)
    before = live.fold.state.meta.stream_ms
    result = live.process(b"exec-bad", _future(bad), "t", 4, timestamp_ms=now)
    (letter,) = values(result.outputs, DEADLETTER)
    assert (letter.reason, letter.id) == ("clock_skew", "dl:t/0/4#e0")
    assert "max_future_skew_s" in letter.error and result.outputs == [result.outputs[0]]
    assert live.fold.state.meta.stream_ms == before
    assert set(live.fold.state.execs["exec-good"].windows) == {at(0)}  # still open
    # An event a little ahead of its message (a clock within the skew) is folded.
    ok = live.process(b"exec-good", encode_event(good.metric(9, "impressions", 20)), "t", 5,
                      timestamp_ms=now)  # fmt: skip
    assert ok.rejected == {} and live.fold.state.meta.stream_ms == at(9)


def test_without_message_timestamps_one_event_cannot_jump_stream_time_past_the_limit() -> None:
    good, bad = Agent("exec-good"), Agent("exec-bad", source="agent-2")
    offline = OfflineFold(FoldConfig(), 1)
    lines = [encode_event(e) for e in [good.start(0), bad.start(1)]] + [_future(bad)]
    out = [e.record for e in offline.feed_lines(lines)]
    (letter,) = values(out, DEADLETTER)
    assert letter.reason == "clock_skew" and "max_time_jump_s" in letter.error
    assert offline.folds[0].state.meta.stream_ms == at(1)
    # The first event of a log sets the clock, whatever its time.
    first = OfflineFold(FoldConfig(), 1)
    assert [e.record.topic for e in first.feed_lines([_future(Agent("exec-x"))])] == []
