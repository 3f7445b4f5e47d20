"""Seed 000's healing policy in event time, plus agentfold's retries and ack timeout."""

from __future__ import annotations

import hashlib

import pytest

from processors.config import SEED_PARITY, FoldConfig
from processors.healing import (
    HealRec,
    idempotency_key,
    plan_for_window,
    retry_backoff_ms,
    should_retry,
    suppression_reason,
)
from processors.limits import Limits
from processors.state import ExecState, PartitionMeta, PartitionState, RunState
from schemas.codec import decode_event
from schemas.outputs import HEALING, STAGNATION
from schemas.timefmt import format_ms
from tests.factory import MIN, Agent, at, fold_all, tick, values


def plans(out: list) -> list:
    """The healing records that plan or suppress (not the reports that close attempts)."""
    return [h for h in values(out, HEALING) if h.status != "reported"]


def reports(out: list) -> list:
    return [h for h in values(out, HEALING) if h.status == "reported"]


CFG = FoldConfig()
SEED_CFG = FoldConfig(**SEED_PARITY)
S = 1000  # ms per second


def _ex(*records: HealRec) -> ExecState:
    ex = ExecState("post-1", RunState(agent_id="a", started_ms=0), last_event_ms=0)
    for r in records:
        ex.healing[r.key] = r
    return ex


def _rec(action: str, tier: str, status: str, initiated_s: int, attempts: int = 1) -> HealRec:
    return HealRec(
        idempotency_key("post-1", action, tier), action, tier, status, attempts, initiated_s * S
    )


def test_idempotency_key_is_sheal_plus_32_hex_of_sha256_without_time() -> None:
    digest = hashlib.sha256(b"post-1:comment:tier_1").hexdigest()[:32]
    assert idempotency_key("post-1", "comment", "tier_1") == f"sheal_{digest}"
    assert len(idempotency_key("x", "y", "z")) == len("sheal_") + 32


def test_seed_tier_actions_and_cooldowns() -> None:
    assert SEED_CFG.tier_actions == {"tier_1": "comment", "tier_2": "edit", "tier_3": "thread"}
    assert CFG.tier_actions == {"tier_1": "nudge", "tier_2": "revise", "tier_3": "escalate"}
    for action, seconds in {
        "comment": 1800,
        "edit": 7200,
        "thread": 10800,
        "nudge": 1800,
        "revise": 7200,
        "escalate": 10800,
    }.items():
        assert CFG.cooldown_s[action] == seconds
    assert CFG.max_actions_per_window == 2
    assert CFG.frequency_window_s == 90 * 60


@pytest.mark.parametrize("status", ["success", "running"])
def test_duplicate_blocks_success_and_in_flight(status: str) -> None:
    rec = _rec("comment", "tier_1", status, 0)
    assert suppression_reason(_ex(rec), rec.key, "comment", 10_000 * S, Limits(SEED_CFG)) == (
        "duplicate_action"
    )


@pytest.mark.parametrize("status", ["failed", "expired", "skipped"])
def test_other_statuses_are_not_duplicates(status: str) -> None:
    rec = _rec("comment", "tier_1", status, 0)
    assert suppression_reason(_ex(rec), rec.key, "comment", 10_000 * S, Limits(SEED_CFG)) is None


def test_duplicate_is_checked_before_frequency() -> None:
    recs = [_rec("comment", "tier_1", "success", 100), _rec("edit", "tier_2", "failed", 100)]
    assert suppression_reason(_ex(*recs), recs[0].key, "comment", 200 * S, Limits(SEED_CFG)) == (
        "duplicate_action"
    )


def test_two_actions_in_the_last_90_minutes_block_any_status() -> None:
    recs = [_rec("edit", "tier_2", "failed", 0), _rec("thread", "tier_3", "failed", 100)]
    key = idempotency_key("post-1", "comment", "tier_1")
    now = 90 * 60  # the first is exactly 90 min old: still inside (inclusive)
    assert suppression_reason(_ex(*recs), key, "comment", now * S, Limits(SEED_CFG)) == (
        "window_frequency_exceeded"
    )
    assert suppression_reason(_ex(*recs), key, "comment", (now + 1) * S, Limits(SEED_CFG)) is None


def test_frequency_is_checked_before_cooldown() -> None:
    recs = [_rec("comment", "tier_1", "failed", 0), _rec("edit", "tier_2", "failed", 10)]
    key = idempotency_key("post-1", "comment", "tier_1")
    assert suppression_reason(_ex(*recs), key, "comment", 60 * S, Limits(SEED_CFG)) == (
        "window_frequency_exceeded"
    )


@pytest.mark.parametrize(
    ("action", "tier", "cooldown"),
    [("comment", "tier_1", 1800), ("edit", "tier_2", 7200), ("thread", "tier_3", 10800)],
)
def test_cooldown_is_strict_and_age_exactly_cooldown_is_allowed(
    action: str, tier: str, cooldown: int
) -> None:
    rec = _rec(action, tier, "failed", 0)
    ex = _ex(rec)
    assert suppression_reason(ex, rec.key, action, (cooldown - 1) * S, Limits(SEED_CFG)) == (
        "action_cooldown_active"
    )
    assert suppression_reason(ex, rec.key, action, cooldown * S, Limits(SEED_CFG)) is None


def test_cooldown_uses_most_recent_record_of_same_type_only() -> None:
    other = _rec("edit", "tier_2", "failed", 7000)  # other type: no cooldown effect
    assert (
        suppression_reason(
            _ex(other),
            idempotency_key("post-1", "comment", "tier_1"),
            "comment",
            7100 * S,
            Limits(SEED_CFG),
        )
        is None
    )


def test_retry_only_for_failed_with_transient_code() -> None:
    for code in [
        "timeout",
        "rate_limit",
        "service_unavailable",
        "network_error",
        "completion_timeout",
    ]:
        rec = _rec("comment", "tier_1", "failed", 0)
        rec.error_code = code
        assert should_retry(rec, Limits(CFG)), code
    rec = _rec("comment", "tier_1", "failed", 0)
    rec.error_code = "permission_denied"
    assert not should_retry(rec, Limits(CFG))
    rec = _rec("comment", "tier_1", "success", 0)
    rec.error_code = "timeout"
    assert not should_retry(rec, Limits(CFG))
    rec = _rec("comment", "tier_1", "failed", 0, attempts=3)
    rec.error_code = "timeout"
    assert not should_retry(rec, Limits(CFG))  # at most 3 attempts


def test_retry_backoff_doubles_from_60s_and_caps_at_one_hour() -> None:
    assert [retry_backoff_ms(n, Limits(CFG)) // S for n in (1, 2, 3, 4, 7, 20)] == [
        60,
        120,
        240,
        480,
        3600,
        3600,
    ]


def test_healthy_window_plans_nothing_and_seed_parity_acts_on_every_window() -> None:
    ps = PartitionState(PartitionMeta(0))
    assert CFG.healthy_below == 0.3
    assert plan_for_window(ps, _ex(), 0.29, 0, 1, 0, Limits(CFG)) is None
    rec = plan_for_window(ps, _ex(), 0.0, 0, 1, 0, Limits(SEED_CFG))
    assert rec is not None and rec.value["action_type"] == "comment"


# ─── through the fold ───────────────────────────────────────────────────────────────


def test_seed_parity_plans_nothing_for_a_window_with_too_few_samples() -> None:
    """healthy_below = 0 acts on every *scored* window; one with fewer metric samples
    than min_samples and no agent signal is the seed's insufficient_samples."""
    a = Agent()
    few = [a.start(0), *a.pair(1, 0, 0), *a.pair(2, 1000, 0)]  # 2 samples < 3
    _, out = fold_all([*few, tick(90.5)], SEED_CFG)
    (window,) = values(out, STAGNATION)
    assert (window.signal, window.sample_count) == ("none", 2)
    assert values(out, HEALING) == []
    b = Agent()
    enough = [b.start(0), *b.pair(1, 0, 0), *b.pair(2, 500, 25), *b.pair(3, 1000, 50)]
    _, out = fold_all([*enough, tick(90.5)], SEED_CFG)
    (window,) = values(out, STAGNATION)
    assert (window.signal, window.score) == ("metric_ratio", 0.0)
    (plan,) = values(out, HEALING)
    assert (plan.status, plan.tier, plan.action_type) == ("planned", "tier_1", "comment")


def _stagnant(a: Agent, start: float) -> list:
    return [*a.pair(start + 1, 0, 0), *a.pair(start + 2, 500, 0), *a.pair(start + 3, 1000, 0)]


def _report(
    subject: str,
    key: str,
    attempt: int,
    outcome: str,
    minutes: float,
    error_code: str | None = None,
):
    return decode_event(
        {
            "specversion": "1.0",
            "id": f"att-{key}-{attempt}-{minutes}",
            "source": "executor",
            "type": "agentfold.healing_attempt",
            "subject": subject,
            "time": format_ms(at(minutes)),
            "data": {
                "idempotency_key": key,
                "attempt": attempt,
                "outcome": outcome,
                "error_code": error_code,
                "elapsed_s": 1.5,
            },
        }
    )


def test_plan_then_success_report_makes_next_plan_a_duplicate() -> None:
    a = Agent()
    key = idempotency_key("exec-1", "escalate", "tier_3")
    events = [a.start(0), *_stagnant(a, 0), tick(90.5)]
    events += [_report("exec-1", key, 1, "success", 92), *_stagnant(a, 90), tick(180.5)]
    _, out = fold_all(events)
    first, second = plans(out)
    (report,) = reports(out)
    assert (report.reason, report.attempt, report.idempotency_key) == ("success", 1, key)
    assert report.planned_at == format_ms(at(92)) and report.ack_deadline is None
    assert (first.status, first.reason, first.attempt, first.tier) == (
        "planned",
        "stagnation",
        1,
        "tier_3",
    )
    assert first.idempotency_key == key
    assert first.ack_deadline == format_ms(at(90.5) + 10 * MIN)
    assert (second.status, second.reason) == ("suppressed", "duplicate_action")


def test_a_lost_attempt_is_planned_again_until_max_attempts_then_expires() -> None:
    """No report within the ack timeout (10 min): the attempt is lost and planned again
    as the next one, with the same key; after the third, the plan stops blocking."""
    a = Agent()
    events = [a.start(0), *_stagnant(a, 0), tick(90.5), *_stagnant(a, 90), tick(180.5)]
    fold, out = fold_all(events)
    *plans, last = values(out, HEALING)
    assert [(p.status, p.reason, p.attempt, p.planned_at[11:16]) for p in plans] == [
        ("planned", "stagnation", 1, "09:00"),
        ("planned", "ack_timeout", 2, "09:10"),
        ("planned", "ack_timeout", 3, "09:20"),
    ]
    assert len({p.idempotency_key for p in plans}) == 1
    # not a duplicate: the last attempt went unreported, so it stopped being in flight
    assert (last.status, last.reason) == ("suppressed", "action_cooldown_active")
    rec = next(iter(fold.state.execs["exec-1"].healing.values()))
    assert (rec.status, rec.attempts) == ("expired", 3)


def test_a_reported_attempt_is_not_planned_again_at_its_ack_timeout() -> None:
    a = Agent()
    events = [a.start(0), *_stagnant(a, 0), tick(90.5)]
    _, out = fold_all(events)
    (plan,) = values(out, HEALING)
    report = _report("exec-1", plan.idempotency_key, 1, "success", 92)
    _, out = fold_all([*events, report, tick(130)])
    assert [h.attempt for h in plans(out)] == [1]
    assert [(h.status, h.attempt) for h in reports(out)] == [("reported", 1)]


def test_transient_failure_is_retried_with_same_key_after_backoff() -> None:
    a = Agent()
    key = idempotency_key("exec-1", "escalate", "tier_3")
    events = [
        a.start(0),
        *_stagnant(a, 0),
        tick(90.5),
        _report("exec-1", key, 1, "send_error", 91, "rate_limit"),
        tick(91.99),
    ]
    fold, out = fold_all(events)
    assert len(plans(out)) == 1
    assert [(h.reason, h.attempt) for h in reports(out)] == [("send_error", 1)]
    out = fold.apply(tick(92))  # 60 s after the failed attempt
    (retry,) = values(out, HEALING)
    assert (retry.status, retry.reason, retry.attempt, retry.idempotency_key) == (
        "planned",
        "retry",
        2,
        key,
    )


def test_permanent_failure_is_not_retried_and_stale_reports_are_ignored() -> None:
    a = Agent()
    key = idempotency_key("exec-1", "escalate", "tier_3")
    events = [
        a.start(0),
        *_stagnant(a, 0),
        tick(90.5),
        _report("exec-1", key, 1, "precondition_fail", 91, "not_allowed"),
        _report("exec-1", key, 1, "success", 91.5),
        tick(150),
    ]
    fold, out = fold_all(events)
    assert len(plans(out)) == 1
    # Only the first report closes the attempt; the stale one is ignored, not reported.
    assert [(h.reason, h.attempt) for h in reports(out)] == [("precondition_fail", 1)]
    ex = fold.state.execs["exec-1"]
    assert ex.healing[key].status == "failed"
    assert ex.run.ignored == {"attempt_stale": 1}


def test_no_healing_for_a_run_that_has_ended() -> None:
    a = Agent()
    _, out = fold_all([a.start(0), *_stagnant(a, 0), a.end(50), tick(91)])
    assert values(out, HEALING) == []


def test_report_time_resets_initiated_at_for_cooldown() -> None:
    """Seed: recording an outcome sets initiated_at = now; the cooldown runs from there."""
    a = Agent()
    key = idempotency_key("exec-1", "escalate", "tier_3")
    events = [
        a.start(0),
        *_stagnant(a, 0),
        tick(90.5),
        _report("exec-1", key, 1, "precondition_fail", 95, "busy"),
    ]
    fold, _ = fold_all(events)
    assert fold.state.execs["exec-1"].healing[key].initiated_ms == at(95)


def test_attempt_report_schema_bounds() -> None:
    from pydantic import ValidationError

    from schemas.events import AttemptOutcome, HealingAttemptData

    assert [o.value for o in AttemptOutcome] == [
        "success",
        "precondition_fail",
        "send_error",
        "completion_timeout",
        "skipped_by_policy",
    ]
    base = {
        "idempotency_key": "sheal_" + "a" * 32,
        "attempt": 1,
        "outcome": "success",
        "elapsed_s": 4.0,
    }
    assert HealingAttemptData(**base, before="x" * 4096).before == "x" * 4096
    with pytest.raises(ValidationError):
        HealingAttemptData(**base, after="x" * 4097)
    with pytest.raises(ValidationError):
        HealingAttemptData(**{**base, "idempotency_key": "nope"})
