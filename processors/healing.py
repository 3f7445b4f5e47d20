"""Healing policy (seed 000 + 003, docs/rules.md): plan, suppress, track attempts, retry.

The checks run in the seed's order — duplicate, frequency, cooldown — with event time
in place of `now`. A plan is in flight until its attempt is reported or the ack timeout
passes — then the attempt counts as lost and is planned again as the next one, within
max_attempts; transient failures are re-planned with the same key after a capped
backoff.
"""

from __future__ import annotations

import hashlib

from processors.limits import Limits
from processors.stagnation import tier_for
from processors.state import ExecState, HealRec, PartitionState, run_key
from processors.timers import ACK, RETRY, cancel_timer, set_timer
from schemas.events import AttemptOutcome
from schemas.outputs import HEALING, OutputRecord
from schemas.records import HealingAttempt
from schemas.timefmt import format_ms

IN_FLIGHT = "running"
SUCCESS = "success"
FAILED = "failed"
SKIPPED = "skipped"
EXPIRED = "expired"


def idempotency_key(subject: str, action_type: str, tier: str) -> str:
    """`sheal_` + the first 32 hex digits of sha256("{subject}:{action}:{tier}"); no time part."""
    digest = hashlib.sha256(f"{subject}:{action_type}:{tier}".encode()).hexdigest()
    return f"sheal_{digest[:32]}"


def suppression_reason(
    ex: ExecState, key: str, action_type: str, now: int, cfg: Limits
) -> str | None:
    """The first check that blocks a plan, in the seed's order, or None when eligible."""
    history = ex.healing
    rec = history.get(key)
    if rec is not None and rec.status in (SUCCESS, IN_FLIGHT):
        return "duplicate_action"
    horizon = now - cfg.frequency_window_s * 1000
    recent = sum(1 for r in history.values() if r.initiated_ms >= horizon)
    if recent >= cfg.max_actions_per_window:
        return "window_frequency_exceeded"
    same_type = [r for r in history.values() if r.action_type == action_type]
    if same_type:
        latest = max(r.initiated_ms for r in same_type)
        if now - latest < cfg.cooldown_s[action_type] * 1000:
            return "action_cooldown_active"
    if rec is not None and rec.attempts >= cfg.max_attempts:
        return "max_attempts_reached"
    return None


def plan_for_window(
    ps: PartitionState,
    ex: ExecState,
    score: float,
    window_start: int,
    window_end: int,
    now: int,
    cfg: Limits,
) -> OutputRecord | None:
    """Decide what a closed window asks for. None when the window is healthy."""
    if score < cfg.healthy_below:
        return None
    tier = tier_for(score, cfg)
    action_type = cfg.tier_actions[tier]
    key = idempotency_key(run_key(ex), action_type, tier)
    reason = suppression_reason(ex, key, action_type, now, cfg)
    rec = ex.healing.get(key)
    if reason is not None:
        attempt = rec.attempts if rec is not None else 0
        return _record(
            ex,
            "suppressed",
            reason,
            key,
            tier,
            action_type,
            score,
            attempt,
            window_start,
            window_end,
            now,
            None,
        )
    if rec is None:
        rec = HealRec(key, action_type, tier, IN_FLIGHT, 0, now)
        ex.healing[key] = rec
    rec.attempts += 1
    rec.status = IN_FLIGHT
    rec.initiated_ms = now
    rec.error_code = None
    rec.score, rec.window_start, rec.window_end = score, window_start, window_end
    return _launch(ps, ex, rec, "stagnation", now, cfg)


def _launch(
    ps: PartitionState, ex: ExecState, rec: HealRec, reason: str, now: int, cfg: Limits
) -> OutputRecord:
    ack_deadline = now + cfg.ack_timeout_s * 1000
    set_timer(ps, ex, ACK + rec.key, ack_deadline)
    return _attempt_record(ex, rec, "planned", reason, now, ack_deadline)


def _attempt_record(
    ex: ExecState, rec: HealRec, status: str, reason: str, now: int, ack_deadline: int | None
) -> OutputRecord:
    """The healing record of `rec`'s current attempt."""
    return _record(
        ex,
        status,
        reason,
        rec.key,
        rec.tier,
        rec.action_type,
        rec.score,
        rec.attempts,
        rec.window_start,
        rec.window_end,
        now,
        ack_deadline,
    )


def _record(
    ex: ExecState,
    status: str,
    reason: str,
    key: str,
    tier: str,
    action_type: str,
    score: float,
    attempt: int,
    window_start: int,
    window_end: int,
    now: int,
    ack_deadline: int | None,
) -> OutputRecord:
    value = {
        "id": f"heal:{key}:{attempt}:{window_start}:{status}:{reason}",
        "execution_id": ex.execution_id,
        "status": status,
        "reason": reason,
        "idempotency_key": key,
        "tier": tier,
        "action_type": action_type,
        "stagnation_score": score,
        "attempt": attempt,
        "window_start": format_ms(window_start),
        "window_end": format_ms(window_end),
        "planned_at": format_ms(now),
        "ack_deadline": format_ms(ack_deadline) if ack_deadline is not None else None,
    }
    return OutputRecord(HEALING, ex.execution_id, value)


def on_attempt(
    ps: PartitionState, ex: ExecState, ev: HealingAttempt, cfg: Limits
) -> str | OutputRecord:
    """Fold an executor's attempt report into the history: the `reported` record that
    closes the plan on the healing topic (an executor reading plans behind never runs
    a reported attempt again, whoever reported it), or the reason it is ignored."""
    data = ev.data
    rec = ex.healing.get(data.idempotency_key)
    if rec is None:
        return "attempt_unknown_key"
    if data.attempt != rec.attempts or data.attempt <= rec.reported:
        return "attempt_stale"
    rec.reported = data.attempt
    rec.initiated_ms = max(rec.initiated_ms, ev.time)
    cancel_timer(ps, ex, ACK + rec.key)
    outcome = data.outcome
    if outcome is AttemptOutcome.SUCCESS:
        rec.status, rec.error_code = SUCCESS, None
    elif outcome is AttemptOutcome.SKIPPED_BY_POLICY:
        rec.status, rec.error_code = SKIPPED, data.error_code or outcome.value
    else:
        # precondition_fail / send_error / completion_timeout: the executor's code, else
        # the outcome itself (so a completion timeout is retried as a transient failure).
        rec.status = FAILED
        rec.error_code = data.error_code or outcome.value
        if should_retry(rec, cfg) and ex.run.is_open:
            set_timer(ps, ex, RETRY + rec.key, ev.time + retry_backoff_ms(rec.attempts, cfg))
    return _attempt_record(ex, rec, "reported", outcome.value, ev.time, None)


def should_retry(rec: HealRec, cfg: Limits) -> bool:
    """Seed 000: only a failed record with a transient code; agentfold caps the attempts."""
    return (
        rec.status == FAILED
        and rec.error_code in cfg.transient_error_codes
        and rec.attempts < cfg.max_attempts
    )


def retry_backoff_ms(failed_attempts: int, cfg: Limits) -> int:
    """min(base · 2^n, max) with n = failures so far − 1: 60 s, 120 s, 240 s … ≤ 1 h."""
    n = max(0, failed_attempts - 1)
    return min(cfg.retry_backoff_base_s << n, cfg.retry_backoff_max_s) * 1000


def on_retry_due(
    ps: PartitionState, ex: ExecState, key: str, now: int, cfg: Limits
) -> OutputRecord | None:
    rec = ex.healing.get(key)
    if rec is None or not should_retry(rec, cfg) or not ex.run.is_open:
        return None
    rec.attempts += 1
    rec.status = IN_FLIGHT
    rec.initiated_ms = now
    return _launch(ps, ex, rec, "retry", now, cfg)


def on_ack_due(
    ps: PartitionState, ex: ExecState, key: str, now: int, cfg: Limits
) -> OutputRecord | None:
    """No report within the ack timeout: the attempt is lost (an executor crashed
    mid-attempt, or none is running). It is planned again as the next attempt, within
    max_attempts; after the last, the plan stops blocking."""
    rec = ex.healing.get(key)
    if rec is None or rec.status != IN_FLIGHT or rec.reported >= rec.attempts:
        return None
    if rec.attempts < cfg.max_attempts and ex.run.is_open:
        rec.attempts += 1
        rec.initiated_ms = now
        return _launch(ps, ex, rec, "ack_timeout", now, cfg)
    rec.status = EXPIRED
    return None


def stop_all(ps: PartitionState, ex: ExecState) -> None:
    """The run is over: nothing more is planned, retried or awaited for it."""
    for key in ex.healing:
        cancel_timer(ps, ex, ACK + key)
        cancel_timer(ps, ex, RETRY + key)
