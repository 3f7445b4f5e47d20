"""Runs (seeds 002/004, hive's Run): lifecycle, decisions and outcomes, problems, narrative.

Bounded: decisions are tracked only while they wait for their outcome (the newest
`pending_decisions_cap`), so an outcome applies at most once — the seed double-counts
a repeated outcome — and a run's state does not grow with its length.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from processors import summary
from processors.bounds import TEXT_BYTES, cap_payload, cap_text
from processors.limits import Limits
from processors.state import ExecState, Pending, RunState, WindowAcc, run_key
from schemas.events import INT64_MAX
from schemas.outputs import RUNS, OutputRecord
from schemas.records import Decision, Outcome, Problem, RunEnded, RunStarted
from schemas.timefmt import format_ms

NARRATIVE_FAILED_SHOWN = 3


def ignore(run: RunState, reason: str) -> None:
    run.ignored[reason] = run.ignored.get(reason, 0) + 1


def on_run_started(ex: ExecState, ev: RunStarted, cfg: Limits) -> OutputRecord | None:
    run = ex.run
    data = ev.data
    if run.started_seen:
        # A reused execution id: the seed silently overwrote the run; we record it.
        if not run.is_open:
            ignore(run, "run_started_after_end")
            return None
        pid = add_problem(
            run,
            "warning",
            f"run_started received again for open execution {ex.execution_id}",
            None,
            "execution_id reused",
            "use a fresh execution_id per run",
            ev.time,
            cfg,
        )
        return snapshot(ex, f"problem:{pid}", cfg)
    run.started_seen = True
    run.started_ms = min(run.started_ms, ev.time)
    run.agent_id = ev.source
    run.goal_id = cap_text(data.goal_id or ev.goal_id or "", cfg.text_max)
    run.goal_description = cap_text(data.goal_description, cfg.text_max)
    run.stream_id = cap_text(data.stream_id, cfg.text_max)
    run.input_data, size = cap_payload(data.input_data, cfg)
    ex.unmeasured += size + TEXT_BYTES * (
        len(run.goal_id) + len(run.goal_description) + len(run.stream_id) + len(run.agent_id)
    )
    return snapshot(ex, "started", cfg)


def on_decision(ex: ExecState, ev: Decision, cfg: Limits) -> None:
    run = ex.run
    data = ev.data
    if data.decision_id in run.pending:
        ignore(run, "duplicate_decision_id")
        return
    index = run.total_decisions
    run.total_decisions += 1
    text_max = cfg.text_max
    node_id = cap_text(data.node_id, text_max)
    intent = cap_text(data.intent, text_max)
    chosen = cap_text(data.chosen_option_id, text_max)
    if node_id not in run.nodes and len(run.nodes) < cfg.nodes_cap:
        run.nodes.append(node_id)
        ex.unmeasured += TEXT_BYTES * len(node_id)
    facts, size = summary.decision_facts(data, cfg)
    run.pending[data.decision_id] = (index, node_id, intent, chosen, facts)
    ex.unmeasured += (
        TEXT_BYTES * (len(data.decision_id) + len(node_id) + len(intent) + len(chosen))
        + 32
        + size
        + summary.on_decision(run, index, node_id, intent, chosen, facts, cfg)
    )
    if len(run.pending) > cfg.pending_decisions_cap:
        drop_oldest_pending(run, cfg)


def drop_oldest_pending(run: RunState, cfg: Limits) -> tuple[str, Pending]:
    """Stop waiting for the oldest decision's outcome: it can no longer apply, and it
    counts as unsuccessful, as hive's does for a decision without an outcome."""
    oldest = next(iter(run.pending))
    entry = run.pending.pop(oldest)
    index, node_id, intent, _, facts = entry
    _note_unsuccessful(run, index, intent)
    summary.note_unsuccessful(run, index, node_id, intent, facts, "", False, cfg)
    return oldest, entry


def on_outcome(ex: ExecState, ev: Outcome, acc: WindowAcc | None, cfg: Limits) -> None:
    run = ex.run
    data = ev.data
    pending = run.pending.pop(data.decision_id, None)
    if pending is None:
        ignore(run, "outcome_without_pending_decision")
        return
    index, node_id, intent, chosen, facts = pending
    ex.unmeasured += summary.on_outcome(run, index, node_id, intent, facts, data, cfg)
    if data.success:
        run.successful += 1
        run.streak = 0
    else:
        run.failed += 1
        run.streak += 1
        _note_unsuccessful(run, index, intent)
    # Sums saturate at the largest signed 64-bit integer: every number the fold emits
    # must encode as JSON the way every reader parses it.
    tokens = run.tokens + data.tokens_used
    run.tokens = tokens if tokens <= INT64_MAX else INT64_MAX
    latency = run.latency_ms + data.latency_ms
    run.latency_ms = latency if latency <= INT64_MAX else INT64_MAX
    if acc is not None:
        if run.streak > acc.max_streak:
            acc.max_streak = run.streak
        key = repetition_key(node_id, intent, chosen, data.result)
        if key in acc.repeats or len(acc.repeats) < cfg.repetition_keys_cap:
            acc.repeats[key] = acc.repeats.get(key, 0) + 1


def repetition_key(node_id: str, intent: str, chosen: str, result: Any) -> str:
    """The same decision with the same result: node, intent, chosen option, result hash."""
    blob = orjson.dumps([node_id, intent, chosen, result], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(blob, digest_size=8).hexdigest()


def _note_unsuccessful(run: RunState, index: int, intent: str) -> None:
    # Only the first three (by decision order) can ever appear in the narrative.
    items = run.unsuccessful
    if len(items) < NARRATIVE_FAILED_SHOWN or index < items[-1][0]:
        items.append((index, intent))
        items.sort()
        del items[NARRATIVE_FAILED_SHOWN:]


def on_problem(ex: ExecState, ev: Problem, cfg: Limits) -> None:
    d = ev.data
    text_max = cfg.text_max
    description = cap_text(d.description, text_max)
    root_cause = None if d.root_cause is None else cap_text(d.root_cause, text_max)
    fix = None if d.suggested_fix is None else cap_text(d.suggested_fix, text_max)
    decision_id = None if d.decision_id is None else cap_text(d.decision_id, text_max)
    add_problem(
        ex.run,
        cap_text(d.severity, text_max),
        description,
        decision_id,
        root_cause,
        fix,
        ev.time,
        cfg,
        problem_id=d.problem_id,
    )
    # stored twice when critical or a warning: in problems and in the narrative list
    ex.unmeasured += (
        TEXT_BYTES * (2 * len(description) + len(root_cause or "") + len(fix or "")) + 160
    )


def add_problem(
    run: RunState,
    severity: str,
    description: str,
    decision_id: str | None,
    root_cause: str | None,
    suggested_fix: str | None,
    t: int,
    cfg: Limits,
    problem_id: str | None = None,
) -> str:
    pid = problem_id or f"prob_{run.problem_count}"
    run.problem_count += 1
    run.problems.append(
        {
            "id": pid,
            "severity": severity,
            "description": description,
            "decision_id": decision_id,
            "root_cause": root_cause,
            "suggested_fix": suggested_fix,
            "time": format_ms(t),
        }
    )
    if len(run.problems) > cfg.problems_kept:
        del run.problems[0]
    if severity == "critical":
        run.critical_count += 1
        if len(run.critical) < cfg.narrative_problems_cap:
            run.critical.append(description)
    elif severity == "warning":
        run.warning_count += 1
        if len(run.warnings) < cfg.narrative_problems_cap:
            run.warnings.append(description)
    return pid


def on_run_ended(ex: ExecState, ev: RunEnded, cfg: Limits) -> OutputRecord | None:
    run = ex.run
    if not run.is_open:
        ignore(run, "run_already_ended")
        return None
    data = ev.data
    status = data.status or ("completed" if data.success else "failed")
    tokens = run.tokens + data.tokens_used  # saturating, as on_outcome's sums
    run.tokens = tokens if tokens <= INT64_MAX else INT64_MAX
    run.output_data, size = cap_payload(data.output_data, cfg)
    finish(run, status, ev.time, cap_text(data.narrative, cfg.text_max))
    ex.unmeasured += size + TEXT_BYTES * len(run.narrative)
    return snapshot(ex, status, cfg)


def finish(run: RunState, status: str, t: int, narrative: str = "") -> None:
    run.status = status
    run.completed_ms = t
    run.narrative = narrative or default_narrative(run)


def on_inactive(ex: ExecState, now: int, cfg: Limits) -> OutputRecord:
    finish(ex.run, "timed_out", now)
    return snapshot(ex, "timed_out", cfg)


def default_narrative(run: RunState) -> str:
    """hive's `_generate_narrative`: decisions without an outcome count as failed ones."""
    opening = "Run completed successfully." if run.status == "completed" else "Run failed."
    parts = [
        opening,
        f"Made {run.total_decisions} decisions: {run.successful} succeeded, {run.failed} failed.",
    ]
    if run.critical:
        parts.append(f"Critical issues: {_listing(run.critical, run.critical_count)}")
    if run.warnings:
        parts.append(f"Warnings: {_listing(run.warnings, run.warning_count)}")
    unsuccessful = sorted(run.unsuccessful + [(p[0], p[2]) for p in run.pending.values()])[
        :NARRATIVE_FAILED_SHOWN
    ]
    if unsuccessful:
        parts.append(f"Failed on: {', '.join(intent for _, intent in unsuccessful)}")
    return " ".join(parts)


def _listing(shown: list[str], total: int) -> str:
    text = ", ".join(shown)
    return text if total <= len(shown) else f"{text} (+{total - len(shown)} more)"


def snapshot(ex: ExecState, label: str, cfg: Limits) -> OutputRecord:
    """The run as an output. Copies every container it takes from state: a record must
    not change when the fold goes on (a batch is serialised after all its events)."""
    run = ex.run
    total = run.total_decisions
    completed = run.completed_ms
    value = {
        "id": f"run:{run_key(ex)}:{label}",
        "execution_id": ex.execution_id,
        "agent_id": run.agent_id,
        "goal_id": run.goal_id,
        "goal_description": run.goal_description,
        "stream_id": run.stream_id,
        "input_data": dict(run.input_data),
        "output_data": dict(run.output_data),
        "status": run.status,
        "started_at": format_ms(run.started_ms),
        "completed_at": format_ms(completed) if completed is not None else None,
        "duration_ms": max(0, completed - run.started_ms) if completed is not None else 0,
        "metrics": {
            "total_decisions": total,
            "successful_decisions": run.successful,
            "failed_decisions": run.failed,
            "total_tokens": run.tokens,
            "total_latency_ms": run.latency_ms,
            "nodes_executed": list(run.nodes),
            "success_rate": run.successful / total if total else 0.0,
        },
        "problems": [dict(p) for p in run.problems],
        "problem_count": run.problem_count,
        "narrative": run.narrative,
        "summary": summary.summary(run, cfg),
        "analysis": summary.analysis(run, cfg),
        "seq_gaps": len(ex.missing) + ex.seq_overflow,
        "late_events": run.late_events,
        "ignored": dict(sorted(run.ignored.items())),
        "shed": dict(sorted(run.shed.items())),
    }
    return OutputRecord(RUNS, ex.execution_id, value)
