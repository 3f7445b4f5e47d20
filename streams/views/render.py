"""One renderer per output kind — the line a person reads about a run, a window, a
healing record, an attribution chain or a dead letter — and the small pieces every view
shares (colours, clock times, durations). `tail`, the offline report, `runs show` and
the demo all print through these, so a record reads the same everywhere."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from schemas.outputs import (
    ATTRIBUTION,
    DEADLETTER,
    GOAL_FACTS,
    GOALS,
    HEALING,
    RUNS,
    STAGNATION,
)

RESET, DIM, RED, GREEN, YELLOW, CYAN = (
    "\033[0m",
    "\033[2m",
    "\033[31m",
    "\033[32m",
    "\033[33m",
    "\033[36m",
)
STATUS_COLOUR = {
    "completed": GREEN,
    "success": GREEN,
    "planned": YELLOW,
    "running": CYAN,
    "failed": RED,
    "stuck": RED,
    "timed_out": RED,
    "completion_timeout": RED,
    "send_error": RED,
    "precondition_fail": RED,
    "suppressed": DIM,
}
TERMINAL = frozenset({"completed", "failed", "stuck", "cancelled", "timed_out"})


def paint(text: str, colour: str, on: bool) -> str:
    return f"{colour}{text}{RESET}" if on and colour else text


def status(text: str, on: bool) -> str:
    return paint(text, STATUS_COLOUR.get(text, ""), on)


def clock(ts: Any) -> str:
    """HH:MM:SS of an RFC 3339 time (the form every output carries)."""
    return str(ts)[11:19] if isinstance(ts, str) and len(ts) >= 19 else "--:--:--"


def hhmm(ts: Any) -> str:
    return clock(ts)[:5]


def duration(ms: int | float) -> str:
    """A run's length for a person: 42s, 3h20m."""
    minutes = int(ms) // 60000
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{ms / 1000:.0f}s"


def count(n: Any, noun: str) -> str:
    n = int(n or 0)
    return f"{n} {noun}{'' if n == 1 else 's'}"


def score_colour(score: float) -> str:
    return RED if score >= 0.8 else YELLOW if score >= 0.3 else GREEN


def run_line(v: dict[str, Any], on: bool = False) -> str:
    m = v.get("metrics") or {}
    state = str(v.get("status", "?"))
    return (
        f"{status(state, on)} · {m.get('total_decisions', 0)} decisions "
        f"({m.get('failed_decisions', 0)} failed) · {duration(v.get('duration_ms') or 0)} · "
        f"{str(v.get('narrative') or '')[:60]}"
    )


def window_line(v: dict[str, Any], on: bool = False) -> str:
    score = float(v.get("score") or 0)
    late = f" · late {v.get('late_events')}" if v.get("late_events") else ""
    return (
        f"{clock(v.get('window_start'))}–{clock(v.get('window_end'))}  "
        f"score {paint(f'{score:.2f}', score_colour(score), on)} ({v.get('signal')})"
        f" · {count(v.get('sample_count'), 'sample')}{late}"
    )


def healing_line(v: dict[str, Any], on: bool = False) -> str:
    state = str(v.get("status", "?"))
    score = float(v.get("stagnation_score") or 0)
    action = f"{v.get('action_type')} ({v.get('tier')}, score {score:.2f})"
    if state == "planned":
        return f"{status(state, on)} {action}, attempt {v.get('attempt')}"
    if state == "reported":
        return f"{status(state, on)} {action}, attempt {v.get('attempt')}: {v.get('reason')}"
    return f"{status(state, on)} {action}: {v.get('reason')}"


def chain_line(v: dict[str, Any], on: bool = False) -> str:
    return (
        f"{v.get('action_id')} {v.get('action_type')} closed by {v.get('closed_by')} · "
        f"{count(v.get('step_count'), 'step')}, "
        f"{count(v.get('observation_count'), 'observation')} · success "
        f"{float(v.get('success_score') or 0):.2f}"
    )


def dead_letter_line(v: dict[str, Any], on: bool = False) -> str:
    o = v.get("origin") or {}
    where = (
        f"line {o.get('line')}"
        if o.get("line") is not None
        else f"partition {o.get('partition')}, offset {o.get('offset')}"
    )
    return f"{paint(str(v.get('reason')), RED, on)} ({where}): {str(v.get('error'))[:70]}"


def goal_fact_line(v: dict[str, Any], on: bool = False) -> str:
    kind = str(v.get("kind"))
    head = f"{kind} · goal {v.get('goal_id')} v{v.get('version')}"
    if kind == "tally":
        shown = ", ".join(f"{cid} {n[0]}" for cid, n in sorted((v.get("criteria") or {}).items()))
        return (
            f"{head} · {v.get('decisions')} decision(s), {v.get('succeeded')} succeeded, "
            f"{v.get('failed')} failed · relevant: {shown or 'none'}"
        )
    if kind == "violation":
        return f"{head} · {v.get('constraint_id')} by {v.get('execution_id')}: {v.get('details')}"
    return head


def goal_line(v: Mapping[str, Any], on: bool = False) -> str:
    """A goal's record in one line: progress, criteria met, decisions, recommendation."""
    criteria = v.get("criteria_status") or {}
    met = sum(1 for c in criteria.values() if c.get("met"))
    decisions = (v.get("metrics") or {}).get("total_decisions", 0)
    recommendation = str(v.get("recommendation"))
    colour = GREEN if recommendation == "complete" else RED if recommendation == "adjust" else ""
    shown = paint(recommendation, colour, on) if colour else recommendation
    violations = int(v.get("violations_total") or 0)
    broken = f", {violations} constraint violation(s)" if violations else ""
    return (
        f"progress {float(v.get('overall_progress') or 0):.0%}, {met}/{len(criteria)} criteria "
        f"met over {decisions} decisions{broken} → {shown}"
    )


def goal_record_line(v: dict[str, Any], on: bool = False) -> str:
    return f"goal {v.get('goal_id')} v{v.get('version')} · {goal_line(v, on)}"


LINES: dict[str, Callable[[dict[str, Any], bool], str]] = {
    GOAL_FACTS: goal_fact_line,
    GOALS: goal_record_line,
    RUNS: run_line,
    STAGNATION: window_line,
    HEALING: healing_line,
    ATTRIBUTION: chain_line,
    DEADLETTER: dead_letter_line,
}


def about(topic: str, v: dict[str, Any]) -> str:
    """Whom a record is about: its execution (a dead letter: its original key)."""
    if topic == DEADLETTER:
        return str(v.get("key") or "-")
    return str(v.get("execution_id") or "-")


def describe(topic: str, v: dict[str, Any], on: bool = False) -> str:
    """The one line for an output record of `topic` (a logical name)."""
    line = LINES.get(topic)
    return line(v, on) if line is not None else str(v)[:160]
