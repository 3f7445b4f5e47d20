"""The healing-attempt engine (seed 003): run one planned action through a handler.

A handler says *what* to do in four small methods — `snapshot`, `precheck`, `send`,
`is_complete` (optional `before_send`, `extras_at_end`) — and never sleeps or does I/O
of its own accord; the engine owns time (`time_fn`, `sleep_fn` are injected) and the
order of outcomes, exactly as the seed:

  snapshot raises → send_error (no snapshots) · skip reason given (even "") →
  skipped_by_policy · precheck false → precondition_fail · before_send/send raises →
  send_error with "{Type}: {msg}" in extras, no polling · then poll: snapshot (an error
  keeps the previous one), is_complete (an error counts as not done); done → success,
  else at/after the deadline → completion_timeout, else sleep. At least one poll, and
  completion wins at the deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import orjson

from schemas.events import MAX_SNAPSHOT_CHARS, AttemptOutcome
from streams.clock import SYSTEM_CLOCK

log = logging.getLogger("agentfold.executor")

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_POLL_S = 2.0


@dataclass
class ActionContext:
    """What a handler acts on: the planned action (a healing record) and free extras."""

    action: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def execution_id(self) -> str:
        return str(self.action.get("execution_id", ""))


@runtime_checkable
class Handler(Protocol):
    def snapshot(self, ctx: ActionContext) -> dict[str, Any]: ...
    def precheck(self, before: dict[str, Any]) -> bool: ...
    def send(self, ctx: ActionContext) -> None: ...
    def is_complete(self, before: dict[str, Any], now: dict[str, Any]) -> bool: ...


@dataclass(frozen=True, slots=True)
class AttemptResult:
    outcome: AttemptOutcome
    elapsed_s: float
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    extras: dict[str, Any]


def run_attempt(
    handler: Handler,
    ctx: ActionContext,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    skip_reason: str | None = None,
    time_fn: Callable[[], float] = SYSTEM_CLOCK.monotonic,
    sleep_fn: Callable[[float], None] = SYSTEM_CLOCK.sleep,
) -> AttemptResult:
    t0 = time_fn()

    def finish(
        outcome: AttemptOutcome, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> AttemptResult:
        extras_at_end = getattr(handler, "extras_at_end", None)
        extras = dict(extras_at_end(ctx)) if extras_at_end is not None else dict(ctx.extras)
        return AttemptResult(outcome, float(time_fn() - t0), before, after, extras)

    try:
        before = handler.snapshot(ctx)
    except Exception as exc:  # the pre-state is unknown: acting would be blind
        log.warning("snapshot before %s raised %s: send_error", ctx.execution_id, exc)
        return finish(AttemptOutcome.SEND_ERROR, None, None)
    if skip_reason is not None:
        ctx.extras.setdefault("skip_reason", skip_reason)
        return finish(AttemptOutcome.SKIPPED_BY_POLICY, before, None)
    if not handler.precheck(before):
        return finish(AttemptOutcome.PRECONDITION_FAIL, before, None)
    try:
        before_send = getattr(handler, "before_send", None)
        if before_send is not None:
            before_send(ctx)
        handler.send(ctx)
    except Exception as exc:
        ctx.extras.setdefault("send_error", f"{type(exc).__name__}: {exc}")
        return finish(AttemptOutcome.SEND_ERROR, before, None)
    deadline = t0 + float(timeout_s)
    now_snap = before
    while True:
        current = time_fn()
        try:
            now_snap = handler.snapshot(ctx)
        except Exception as exc:  # transient: judge on the previous snapshot
            log.debug("snapshot while polling raised %s", exc)
        try:
            done = handler.is_complete(before, now_snap)
        except Exception as exc:  # a malformed snapshot is "not done yet"
            log.debug("is_complete raised %s", exc)
            done = False
        if done:
            return finish(AttemptOutcome.SUCCESS, before, now_snap)
        if current >= deadline:
            return finish(AttemptOutcome.COMPLETION_TIMEOUT, before, now_snap)
        sleep_fn(poll_s)


def snapshot_text(snapshot: dict[str, Any] | None) -> tuple[str | None, bool]:
    """A snapshot as stored in the attempt event: JSON, at most MAX_SNAPSHOT_CHARS, the
    tail kept when cut; (text, truncated)."""
    if snapshot is None:
        return None, False
    text = orjson.dumps(snapshot, option=orjson.OPT_SORT_KEYS, default=str).decode()
    if len(text) <= MAX_SNAPSHOT_CHARS:
        return text, False
    return text[-MAX_SNAPSHOT_CHARS:], True


def attempt_data(action: dict[str, Any], result: AttemptResult) -> dict[str, Any]:
    """The `data` of the healing_attempt event reporting `result` for `action`."""
    before, cut_before = snapshot_text(result.before)
    after, cut_after = snapshot_text(result.after)
    error = result.extras.get("send_error") if result.outcome == AttemptOutcome.SEND_ERROR else None
    if result.outcome == AttemptOutcome.SKIPPED_BY_POLICY:
        error = "skipped_by_policy"
    return {
        "idempotency_key": action["idempotency_key"],
        "attempt": action["attempt"],
        "action_type": action.get("action_type", ""),
        "outcome": result.outcome.value,
        "error_code": None if error is None else str(error)[:200],
        "elapsed_s": round(result.elapsed_s, 3),
        "before": before,
        "after": after,
        "truncated": cut_before or cut_after,
        "extras": result.extras,
    }
