"""The seed-003 attempt engine with fake handlers and an injected clock: each of the
five outcomes, the order of checks, and the polling schedule."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.events import MAX_SNAPSHOT_CHARS, AttemptOutcome, HealingAttemptData
from streams.healing.engine import ActionContext, attempt_data, run_attempt

ACTION = {
    "execution_id": "exec-1",
    "idempotency_key": "sheal_" + "ab" * 16,
    "attempt": 1,
    "action_type": "nudge",
}


class Clock:
    def __init__(self) -> None:
        self.t = 100.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


class Fake:
    """Completes after `done_after` polls; each hook can be made to raise."""

    def __init__(self, done_after: int | None = 0, **raises: bool) -> None:
        self.done_after = done_after
        self.raises = raises
        self.polls = 0
        self.sent = 0
        self.precheck_ok = True

    def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        if self.raises.get("snapshot"):
            raise RuntimeError("pane gone")
        return {"polls": self.polls}

    def precheck(self, before: dict[str, Any]) -> bool:
        return self.precheck_ok

    def send(self, ctx: ActionContext) -> None:
        if self.raises.get("send"):
            raise ConnectionError("no route")
        self.sent += 1

    def is_complete(self, before: dict[str, Any], now: dict[str, Any]) -> bool:
        self.polls += 1
        return self.done_after is not None and self.polls > self.done_after


def go(handler: Fake, clock: Clock, **kw: Any):  # type: ignore[no-untyped-def]
    return run_attempt(
        handler, ActionContext(dict(ACTION)), time_fn=clock.time, sleep_fn=clock.sleep, **kw
    )


def test_success_after_polls() -> None:
    clock, h = Clock(), Fake(done_after=2)
    r = go(h, clock, timeout_s=30, poll_s=2)
    assert r.outcome == AttemptOutcome.SUCCESS and h.sent == 1
    assert clock.sleeps == [2, 2] and r.elapsed_s == 4.0


def test_timeout_4_poll_2_polls_at_0_2_4_and_reports_4_seconds() -> None:
    clock, h = Clock(), Fake(done_after=None)
    r = go(h, clock, timeout_s=4, poll_s=2)
    assert r.outcome == AttemptOutcome.COMPLETION_TIMEOUT
    assert h.polls == 3 and r.elapsed_s == 4.0


def test_completion_wins_at_the_deadline() -> None:
    clock, h = Clock(), Fake(done_after=2)
    assert go(h, clock, timeout_s=4, poll_s=2).outcome == AttemptOutcome.SUCCESS


def test_a_skip_reason_even_empty_skips_before_precheck() -> None:
    clock, h = Clock(), Fake()
    h.precheck_ok = False
    r = go(h, clock, skip_reason="")
    assert r.outcome == AttemptOutcome.SKIPPED_BY_POLICY and h.sent == 0
    assert r.extras["skip_reason"] == "" and r.before is not None and r.after is None


def test_precheck_false_is_precondition_fail_without_send() -> None:
    clock, h = Clock(), Fake()
    h.precheck_ok = False
    r = go(h, clock)
    assert r.outcome == AttemptOutcome.PRECONDITION_FAIL and h.sent == 0


def test_send_raising_is_send_error_with_the_error_and_no_polling() -> None:
    clock, h = Clock(), Fake(send=True)
    r = go(h, clock)
    assert r.outcome == AttemptOutcome.SEND_ERROR and h.polls == 0
    assert r.extras["send_error"] == "ConnectionError: no route"
    assert attempt_data(ACTION, r)["error_code"] == "ConnectionError: no route"


def test_snapshot_raising_first_is_send_error_without_snapshots() -> None:
    clock, h = Clock(), Fake(snapshot=True)
    r = go(h, clock)
    assert r.outcome == AttemptOutcome.SEND_ERROR and (r.before, r.after) == (None, None)
    assert h.sent == 0


@pytest.mark.parametrize("size", [10, MAX_SNAPSHOT_CHARS * 2])
def test_attempt_data_is_a_valid_event_body_with_snapshots_cut_to_their_tail(size: int) -> None:
    clock, h = Clock(), Fake()
    r = run_attempt(
        type("Big", (Fake,), {"snapshot": lambda self, ctx: {"tail": "x" * size + "END"}})(),
        ActionContext(dict(ACTION)),
        time_fn=clock.time,
        sleep_fn=clock.sleep,
    )
    data = HealingAttemptData.model_validate(attempt_data(ACTION, r))
    assert data.outcome == AttemptOutcome.SUCCESS
    assert data.before is not None and data.before.endswith('END"}')
    assert data.truncated == (size > MAX_SNAPSHOT_CHARS)
    assert len(data.before) <= MAX_SNAPSHOT_CHARS
    del h
