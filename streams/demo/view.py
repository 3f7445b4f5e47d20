"""What the demo prints: one readable line per thing that happens in the loop (a run
ends, a window closes, an action is planned or suppressed, an attempt comes back, a
chain is written, input is dead-lettered), and the summary table at the end."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TextIO

from schemas.outputs import ATTRIBUTION, DEADLETTER, GOALS, HEALING, RUNS, STAGNATION
from schemas.timefmt import parse_rfc3339_ms
from streams.healing.engine import AttemptResult
from streams.views.render import (
    DIM,
    TERMINAL,
    YELLOW,
    chain_line,
    dead_letter_line,
    goal_line,
    healing_line,
    paint,
    run_line,
    status,
    window_line,
)


@dataclass
class ExecutionSummary:
    status: str = "running"
    windows: int = 0
    top_score: float = 0.0
    top_signal: str = "-"
    last_window_end_ms: int = 0
    planned: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    chains: Counter[str] = field(default_factory=Counter)


def _ms(value: Any) -> int:
    try:
        return parse_rfc3339_ms(str(value))
    except ValueError:
        return 0


class DemoView:
    def __init__(self, out: TextIO, colour: bool, started: float | None = None) -> None:
        self.out = out
        self.colour = colour
        self.started = time.monotonic() if started is None else started
        self.executions: dict[str, ExecutionSummary] = {}
        self.dead_letters: Counter[str] = Counter()
        self.planned_seen = 0
        self._seen_ids: set[str] = set()
        self.goals: dict[str, dict[str, Any]] = {}  # the latest progress record of each goal
        self._goal_shown: dict[str, tuple[int, str]] = {}

    # ─── printing ─────────────────────────────────────────────────────────────────

    def c(self, text: str, colour: str) -> str:
        return paint(text, colour, self.colour)

    def say(self, what: str, execution: str, text: str) -> None:
        clock = f"+{time.monotonic() - self.started:5.1f}s"
        self.out.write(f"  {self.c(clock, DIM)}  {what:<8} {execution:<14} {text}\n")
        self.out.flush()

    def phase(self, text: str) -> None:
        self.out.write(f"{self.c('▶', YELLOW)} {text}\n")
        self.out.flush()

    # ─── inputs ───────────────────────────────────────────────────────────────────

    def summary(self, execution: str) -> ExecutionSummary:
        return self.executions.setdefault(execution, ExecutionSummary())

    def on_record(self, topic: str, value: dict[str, Any]) -> None:
        """One output record, as read from its topic (redeliveries are ignored)."""
        if topic == GOALS:  # a goal's latest progress: no id, each record supersedes
            self._goal(value)
            return
        rid = str(value.get("id"))
        if rid in self._seen_ids:
            return
        self._seen_ids.add(rid)
        handler = {
            RUNS: self._run,
            STAGNATION: self._window,
            HEALING: self._healing,
            ATTRIBUTION: self._chain,
            DEADLETTER: self._dead_letter,
        }.get(topic)
        if handler is not None:
            handler(value)

    def _run(self, v: dict[str, Any]) -> None:
        ex = str(v.get("execution_id"))
        s = self.summary(ex)
        state = str(v.get("status"))
        if state == s.status:
            return
        s.status = state
        if state not in TERMINAL:
            return
        self.say("run", ex, run_line(v, self.colour))

    def _window(self, v: dict[str, Any]) -> None:
        ex = str(v.get("execution_id"))
        s = self.summary(ex)
        score = float(v.get("score") or 0)
        s.windows += 1
        s.last_window_end_ms = max(s.last_window_end_ms, _ms(v.get("window_end")))
        if score > s.top_score or s.top_signal == "-":
            s.top_score, s.top_signal = score, str(v.get("signal"))
        self.say("window", ex, window_line(v, self.colour))

    def _healing(self, v: dict[str, Any]) -> None:
        ex = str(v.get("execution_id"))
        s = self.summary(ex)
        if v.get("status") == "reported":
            return  # the attempt's own line (on_attempt) has said it
        if v.get("status") == "planned":
            s.planned += 1
            self.planned_seen += 1
        else:
            s.suppressed[str(v.get("reason"))] += 1
        self.say("healing", ex, healing_line(v, self.colour))

    def _chain(self, v: dict[str, Any]) -> None:
        ex = str(v.get("execution_id"))
        closed_by = str(v.get("closed_by"))
        self.summary(ex).chains[closed_by] += 1
        self.say("chain", ex, chain_line(v, self.colour))

    def _dead_letter(self, v: dict[str, Any]) -> None:
        reason = str(v.get("reason"))
        self.dead_letters[reason] += 1
        self.say("dead", str(v.get("key") or "-"), dead_letter_line(v, self.colour))

    def _goal(self, v: dict[str, Any]) -> None:
        """Goal progress as the worker's goal stage writes it: a line when a goal's
        progress moves by a tenth or its recommendation changes."""
        goal_id = str(v.get("goal_id"))
        self.goals[goal_id] = v
        progress = float(v.get("overall_progress") or 0)
        shown = (int(progress * 10), str(v.get("recommendation")))
        if self._goal_shown.get(goal_id) == shown:
            return
        self._goal_shown[goal_id] = shown
        self.say("goal", goal_id, goal_line(v, self.colour))

    def on_attempt(self, action: dict[str, Any], result: AttemptResult) -> None:
        ex = str(action.get("execution_id"))
        outcome = result.outcome.value
        self.summary(ex).attempts[outcome] += 1
        self.say(
            "attempt",
            ex,
            f"{action.get('action_type')} #{action.get('attempt')} → "
            f"{status(outcome, self.colour)} in {result.elapsed_s:.1f}s",
        )

    # ─── the end ──────────────────────────────────────────────────────────────────

    def table(self, stories: dict[str, str]) -> None:
        rows = [("execution", "status", "windows", "top score", "healing", "attempts", "chains")]
        for ex in sorted(self.executions, key=lambda e: (e not in stories, e)):
            s = self.executions[ex]
            healing = f"{s.planned} planned" + "".join(
                f", {n} {reason}" for reason, n in sorted(s.suppressed.items())
            )
            rows.append(
                (
                    ex,
                    s.status,
                    str(s.windows),
                    f"{s.top_score:.2f} {s.top_signal}",
                    healing,
                    ", ".join(f"{n} {o}" for o, n in sorted(s.attempts.items())) or "-",
                    ", ".join(f"{n} {c}" for c, n in sorted(s.chains.items())) or "-",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for i, row in enumerate(rows):
            line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            self.out.write(f"  {self.c(line, DIM) if i == 0 else line}\n")
        if self.dead_letters:
            reasons = ", ".join(f"{n} {r}" for r, n in sorted(self.dead_letters.items()))
            self.out.write(f"  dead letters: {reasons}\n")
        for goal_id, record in sorted(self.goals.items()):
            self.out.write(f"  goal {goal_id}: {goal_line(record, self.colour)}\n")
        self.out.flush()
