"""The demo's live lines and summary from output records (pure: no broker)."""

from __future__ import annotations

import io

from schemas.events import AttemptOutcome
from streams.demo.view import DemoView
from streams.healing.engine import AttemptResult

W = {"window_start": "2026-11-22T10:00:00.000Z", "window_end": "2026-11-22T10:00:10.000Z"}


def view() -> tuple[DemoView, io.StringIO]:
    out = io.StringIO()
    return DemoView(out, colour=False, started=0.0), out


def test_lines_and_summary_follow_the_records() -> None:
    v, out = view()
    v.on_record("runs", {"id": "r1", "execution_id": "exec-a", "status": "running"})
    v.on_record(
        "stagnation",
        {"id": "s1", "execution_id": "exec-a", "score": 0.6, "signal": "metric_ratio", **W},
    )
    plan = {"execution_id": "exec-a", "action_type": "revise", "tier": "tier_2"}
    v.on_record("healing", {"id": "h1", "status": "planned", "attempt": 1, **plan})
    v.on_attempt({**plan, "attempt": 1}, AttemptResult(AttemptOutcome.SUCCESS, 0.8, {}, {}, {}))
    v.on_record(
        "healing", {"id": "h2", "status": "suppressed", "reason": "duplicate_action", **plan}
    )
    v.on_record(
        "healing", {"id": "h2", "status": "suppressed", "reason": "duplicate_action", **plan}
    )
    v.on_record(
        "runs",
        {
            "id": "r2",
            "execution_id": "exec-a",
            "status": "completed",
            "metrics": {},
            "narrative": "ok",
        },
    )
    v.on_record("deadletter", {"id": "d1", "reason": "invalid_json", "key": "k", "origin": {}})
    text = out.getvalue()
    assert "10:00:00–10:00:10  score 0.60 (metric_ratio)" in text
    assert "planned revise (tier_2, score 0.00), attempt 1" in text
    assert "revise #1 → success in 0.8s" in text
    assert text.count("duplicate_action") == 1  # a redelivered record is not shown twice
    assert "running" not in text  # only a run's end is news
    assert "completed" in text
    s = v.executions["exec-a"]
    assert (s.status, s.windows, s.planned, dict(s.suppressed), dict(s.attempts)) == (
        "completed",
        1,
        1,
        {"duplicate_action": 1},
        {"success": 1},
    )
    assert v.planned_seen == 1
    v.table({"exec-a": "story"})
    table = out.getvalue().splitlines()
    assert any(
        line.split()[:2] == ["exec-a", "completed"]
        and "1 planned, 1 duplicate_action" in line
        and "1 success" in line
        for line in table
    )
    assert "dead letters: 1 invalid_json" in out.getvalue()


def test_colour_only_when_asked() -> None:
    out = io.StringIO()
    v = DemoView(out, colour=True, started=0.0)
    v.on_record("deadletter", {"id": "d1", "reason": "oversize", "key": "k", "origin": {}})
    assert "\033[31moversize\033[0m" in out.getvalue()
