"""The ready-made handlers through the real attempt engine (injected clock): the inbox
handler succeeds only once the agent acknowledges, times out when it never does, and
fails its precondition for an agent that is not connected; `--handlers` loading gives
errors a user can act on."""

from __future__ import annotations

import threading

import pytest

from schemas.errors import InputError
from schemas.events import AttemptOutcome
from streams.demo.inbox import Inbox, InboxHandler, inbox_handlers
from streams.healing import (
    ActionContext,
    run_attempt,
)
from streams.healing.handlers import (
    INSTRUCTIONS,
    AcknowledgeHandler,
    acknowledge_handlers,
    load_handlers,
)

ACTION = {
    "execution_id": "exec-1",
    "idempotency_key": "sheal_" + "cd" * 16,
    "attempt": 2,
    "action_type": "revise",
    "tier": "tier_2",
}


class Clock:
    """Fake time; `on_sleep` plays the agent between polls."""

    def __init__(self, on_sleep: object = None) -> None:
        self.t = 0.0
        self.on_sleep = on_sleep

    def time(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s
        if callable(self.on_sleep):
            self.on_sleep()


def attempt(inbox: Inbox, clock: Clock) -> tuple[AttemptOutcome, float]:
    handler = InboxHandler(inbox, INSTRUCTIONS["revise"])
    result = run_attempt(
        handler,
        ActionContext(ACTION),
        timeout_s=2.0,
        poll_s=0.5,
        time_fn=clock.time,
        sleep_fn=clock.sleep,
    )
    return result.outcome, result.elapsed_s


def test_success_once_the_agent_acknowledges_the_message() -> None:
    inbox = Inbox()
    inbox.connect("exec-1")
    polls = 0

    def agent() -> None:  # reads its inbox on the second pause
        nonlocal polls
        polls += 1
        if polls == 2:
            messages = inbox.read("exec-1")
            assert [m["action_type"] for m in messages] == ["revise"]
            assert messages[0]["idempotency_key"] == ACTION["idempotency_key"]
            assert messages[0]["attempt"] == 2
            inbox.ack("exec-1")

    outcome, elapsed = attempt(inbox, Clock(agent))
    assert outcome is AttemptOutcome.SUCCESS
    assert elapsed == 1.0  # two pauses of 0.5 s, then the poll that sees the ack
    assert inbox.state("exec-1") == {"connected": True, "delivered": 1, "acked": 1}


def test_an_agent_that_never_answers_times_out() -> None:
    inbox = Inbox()
    inbox.connect("exec-1")
    outcome, elapsed = attempt(inbox, Clock())
    assert outcome is AttemptOutcome.COMPLETION_TIMEOUT
    assert elapsed == 2.0
    assert inbox.state("exec-1")["delivered"] == 1


def test_an_earlier_acknowledgement_does_not_count() -> None:
    inbox = Inbox()
    inbox.connect("exec-1")
    inbox.ack("exec-1")  # from some previous action
    outcome, _ = attempt(inbox, Clock())
    assert outcome is AttemptOutcome.COMPLETION_TIMEOUT


def test_no_agent_connected_fails_the_precondition_and_sends_nothing() -> None:
    inbox = Inbox()
    outcome, _ = attempt(inbox, Clock())
    assert outcome is AttemptOutcome.PRECONDITION_FAIL
    with pytest.raises(LookupError, match="exec-1"):
        inbox.post("exec-1", {})


def test_inbox_is_safe_across_threads() -> None:
    inbox = Inbox()
    inbox.connect("x")

    def post() -> None:
        for _ in range(1000):
            inbox.post("x", {})

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(inbox.read("x")) == 4000 == inbox.state("x")["delivered"]


def test_default_action_types_all_have_handlers() -> None:
    assert (
        set(inbox_handlers(Inbox()))
        == set(acknowledge_handlers())
        == {
            "nudge",
            "revise",
            "escalate",
        }
    )
    outcome = run_attempt(
        AcknowledgeHandler(),
        ActionContext(ACTION),
        time_fn=lambda: 0.0,
        sleep_fn=lambda s: None,
    ).outcome
    assert outcome is AttemptOutcome.SUCCESS


HANDLERS = {"comment": AcknowledgeHandler()}


def test_load_handlers_from_a_function_or_a_dict() -> None:
    assert set(load_handlers("streams.healing.handlers:acknowledge_handlers")) == set(INSTRUCTIONS)
    assert load_handlers("tests.streams.healing.test_handlers:HANDLERS") == HANDLERS


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("streams.healing.handlers", "MODULE:ATTRIBUTE"),
        ("no_such_module_xyz:h", "cannot import no_such_module_xyz"),
        ("streams.healing.handlers:nothing_here", "has no attribute 'nothing_here'"),
        ("streams.demo.inbox:Inbox", r"must be \(or return\) a dict"),
        ("streams.healing.handlers:INSTRUCTIONS", "not handlers .*nudge"),
    ],
)
def test_load_handlers_errors_say_what_to_fix(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_handlers(spec)
