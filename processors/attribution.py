"""Attribution (seed 001): action lifecycle, credit assignment, success score, chains.

Seed bugs fixed here: the last-50 summary is credited by *global* step index; the step
cap counts observations too; eviction and TTL both close with a chain.
"""

from __future__ import annotations

from typing import Any

from processors.bounds import TEXT_BYTES, bound_payload, cap_payload, cap_text, json_size
from processors.limits import Limits
from processors.state import ExecState, OpenAction, PartitionState
from processors.timers import TTL, cancel_timer, set_timer
from schemas.outputs import ATTRIBUTION, JsonDict, OutputRecord
from schemas.records import ActionStarted, Observation, Step
from schemas.timefmt import format_ms

TIMEOUT_OUTCOME = {"status": "timeout"}
EVICTED_OUTCOME = {"status": "evicted", "reason": "max_open_actions"}


# ─── pure rules ─────────────────────────────────────────────────────────────────────


def credits(confidences: list[float], decay: float = 0.9) -> tuple[list[float], list[float], float]:
    """raw_i = decay^(n−1−i)·(0.5 + 0.5·c_i); credit_i = raw_i / Σraw rounded to 4 places.

    Returns (credits, raw weights, normaliser). No steps → no credits.
    """
    n = len(confidences)
    if n == 0:
        return [], [], 0.0
    raw = [
        decay ** (n - 1 - i) * (0.5 + 0.5 * max(0.0, min(1.0, c)))
        for i, c in enumerate(confidences)
    ]
    total = sum(raw)
    if total <= 0:
        return [1.0 / n] * n, raw, total
    return [round(w / total, 4) for w in raw], raw, total


def success_score(expected: dict[str, Any], outcome: dict[str, Any]) -> float:
    """Seed 001: outcome compared with the expectation, in [0, 1]."""
    errored = outcome.get("status") == "error" or bool(outcome.get("error"))
    if not expected:
        if errored:
            return 0.0
        if outcome.get("status") == "timeout":
            return 0.2
        return 0.5
    if errored:
        return 0.0
    matched = 0
    for key, want in expected.items():
        got = outcome.get(key)
        if got is None:
            continue
        if isinstance(want, int | float) and isinstance(got, int | float):
            if abs(got - want) <= 0.05 or (want != 0 and abs(got - want) / abs(want) <= 0.1):
                matched += 1
        elif got == want:
            matched += 1
    return matched / len(expected)


# ─── lifecycle ──────────────────────────────────────────────────────────────────────


def on_action_started(
    ps: PartitionState, ex: ExecState, ev: ActionStarted, cfg: Limits
) -> str | None:
    """Open an action (the caller has made room under the partition's cap)."""
    data = ev.data
    if data.action_id in ps.open_actions:
        return "duplicate_action_id"
    expected, expected_size = bound_payload(data.expected_outcome, cfg)
    criteria = cap_list(data.acceptance_criteria, cfg)
    parent = data.parent_action_id
    action = OpenAction(
        action_id=data.action_id,
        action_type=cap_text(data.action_type, cfg.text_max),
        agent_id=ev.source,
        goal_id=ev.goal_id if ev.goal_id is not None else (ex.run.goal_id or None),
        parent_action_id=None if parent is None else cap_text(parent, cfg.text_max),
        expected_outcome=expected,
        acceptance_criteria=criteria,
        started_ms=ev.time,
    )
    ex.unmeasured += (
        expected_size
        + json_size(criteria)
        + TEXT_BYTES
        * (
            3 * len(action.action_id)  # key, field and TTL timer
            + len(action.action_type)
            + len(action.agent_id)
            + len(action.goal_id or "")
            + len(action.parent_action_id or "")
        )
        + 256
    )
    ex.actions[data.action_id] = action
    ps.add_open_action(data.action_id, ev.time, ex.execution_id)
    set_timer(ps, ex, TTL + data.action_id, ev.time + cfg.action_ttl_s * 1000)
    return None


def evict_oldest(ps: PartitionState, cfg: Limits, out: list[OutputRecord]) -> ExecState:
    """Close the partition's oldest open action as evicted; return its execution.

    Oldest by start time; ties broken by action id so the choice is deterministic."""
    action_id = ps.oldest_action()
    exec_id = ps.open_actions[action_id][1]
    owner = ps.execs[exec_id]
    now = max(ps.meta.stream_ms, owner.actions[action_id].started_ms)
    out.append(close_action(ps, owner, action_id, dict(EVICTED_OUTCOME), "evicted", now, cfg))
    ps.touched.add(exec_id)
    return owner


def _room(action: OpenAction, cfg: Limits) -> bool:
    return action.n_steps + action.n_obs < cfg.max_steps_per_action


def on_step(ex: ExecState, ev: Step, cfg: Limits) -> str | None:
    data = ev.data
    action = ex.actions.get(data.action_id)
    if action is None:
        return "step_unknown_action"
    if not _room(action, cfg):
        return "step_cap_reached"
    c = data.confidence
    confidence = 0.0 if c < 0.0 else 1.0 if c > 1.0 else c
    action.confidences.append(confidence)
    description = data.description[: cfg.description_max]
    decision = data.decision[: cfg.decision_max]
    action.steps.append((description, decision, confidence))
    if len(action.steps) > cfg.summary_keep:
        del action.steps[0]
    action.n_steps += 1
    ex.unmeasured += TEXT_BYTES * (len(description) + len(decision)) + 56  # + confidence twice
    return None


def on_observation(ex: ExecState, ev: Observation, cfg: Limits) -> str | None:
    data = ev.data
    action = ex.actions.get(data.action_id)
    if action is None:
        return "observation_unknown_action"
    if not _room(action, cfg):
        return "observation_cap_reached"
    # A tuple, time unformatted: the chain builds the record for the last few only.
    c = data.confidence
    kind = data.observation_type[: cfg.label_max]
    source = data.source[: cfg.label_max]
    payload, size = cap_payload(data.data, cfg)
    action.observations.append(
        (ev.time, kind, payload, source, 0.0 if c < 0.0 else 1.0 if c > 1.0 else c)
    )
    if len(action.observations) > cfg.summary_keep:
        del action.observations[0]
    action.n_obs += 1
    ex.unmeasured += size + TEXT_BYTES * (len(kind) + len(source)) + 56
    return None


def cap_list(items: list[str], cfg: Limits) -> list[str]:
    """Acceptance criteria: each item a capped text, and only as many leading items as
    fit payload_max_bytes."""
    kept: list[str] = []
    room = cfg.payload_max_bytes
    for item in items:
        text = cap_text(item, cfg.text_max)
        room -= json_size(text) + 1
        if room < 0:
            break
        kept.append(text)
    return kept


def close_action(
    ps: PartitionState,
    ex: ExecState,
    action_id: str,
    outcome: dict[str, Any],
    closed_by: str,
    now: int,
    cfg: Limits,
) -> OutputRecord:
    """Close an open action and build its attribution chain."""
    action = ex.actions.pop(action_id)
    del ps.open_actions[action_id]
    cancel_timer(ps, ex, TTL + action_id)
    return OutputRecord(
        ATTRIBUTION, action_id, build_chain(ex, action, outcome, closed_by, now, cfg)
    )


def build_chain(
    ex: ExecState,
    action: OpenAction,
    outcome: dict[str, Any],
    closed_by: str,
    now: int,
    cfg: Limits,
) -> JsonDict:
    """The chain as the `AttributionChain` contract, as plain JSON-ready data."""
    step_credits, raw, total = credits(action.confidences, cfg.credit_decay)
    score = success_score(action.expected_outcome, outcome)
    first_global = action.n_steps - len(action.steps)
    summaries = [
        {
            "index": first_global + j,
            "desc": desc,
            "decision": decision,
            "confidence": confidence,
            "credit": step_credits[first_global + j],
        }
        for j, (desc, decision, confidence) in enumerate(action.steps)
    ]
    summary = (
        f"{action.agent_id} ran {action.action_type} "
        f"(goal={action.goal_id}, parent={action.parent_action_id}, "
        f"steps={action.n_steps}, observations={action.n_obs}, "
        f"success={round(score, 2)})"
    )
    return {
        "id": f"attr:{action.action_id}" + ("" if ex.incarnation == 1 else f"#{ex.incarnation}"),
        "execution_id": ex.execution_id,
        "action_id": action.action_id,
        "parent_action_id": action.parent_action_id,
        "agent_id": action.agent_id,
        "action_type": action.action_type,
        "goal_id": action.goal_id,
        "expected_outcome": dict(action.expected_outcome),
        "acceptance_criteria": list(action.acceptance_criteria),
        "started_at": format_ms(action.started_ms),
        "completed_at": format_ms(now),
        "duration_seconds": round(max(0, now - action.started_ms) / 1000, 2),
        "step_count": action.n_steps,
        "observation_count": action.n_obs,
        "outcome": bound_payload(outcome, cfg)[0],
        "closed_by": closed_by,
        "success_score": score,
        "step_credits": step_credits,
        "raw_weights": raw,
        "normalizer": total,
        "steps_summary": summaries,
        "observations": [
            {
                "time": format_ms(t),
                "observation_type": kind,
                "data": data,  # the state's own copy (truncated); the action is closed
                "source": source,
                "confidence": confidence,
            }
            for t, kind, data, source, confidence in action.observations
        ],
        "summary": summary,
    }
