"""`ExecState` ⇄ plain JSON values (dicts, lists, str, int, float, bool, None).

Written out field by field instead of leaning on orjson's dataclass support and
pydantic: the state classes may be compiled to native classes (see streams/native.py),
which neither library can read or build safely. The shape is exactly what orjson
produced from the dataclasses before — field names as keys, tuples as lists, int dict
keys as strings — so changelogs written by either version restore with the other.
"""

from __future__ import annotations

from typing import Any

from processors.state import (
    NO_TIME,
    DecisionFacts,
    ExecState,
    HealRec,
    OpenAction,
    RunState,
    Sample,
    WindowAcc,
)

Obj = dict[str, Any]


def _sample(s: Sample) -> Obj:
    return {
        "n": s.n,
        "first_t": s.first_t,
        "first_v": s.first_v,
        "last_t": s.last_t,
        "last_v": s.last_v,
    }


def _window(w: WindowAcc) -> Obj:
    return {
        "start": w.start,
        "events": w.events,
        "progress": _sample(w.progress),
        "exposure": _sample(w.exposure),
        "max_streak": w.max_streak,
        "repeats": w.repeats,
    }


def _heal(h: HealRec) -> Obj:
    return {
        "key": h.key,
        "action_type": h.action_type,
        "tier": h.tier,
        "status": h.status,
        "attempts": h.attempts,
        "initiated_ms": h.initiated_ms,
        "reported": h.reported,
        "error_code": h.error_code,
        "score": h.score,
        "window_start": h.window_start,
        "window_end": h.window_end,
    }


def action_to_json(a: OpenAction) -> Obj:
    return {
        "action_id": a.action_id,
        "action_type": a.action_type,
        "agent_id": a.agent_id,
        "goal_id": a.goal_id,
        "parent_action_id": a.parent_action_id,
        "expected_outcome": a.expected_outcome,
        "acceptance_criteria": a.acceptance_criteria,
        "started_ms": a.started_ms,
        "confidences": a.confidences,
        "steps": a.steps,
        "observations": a.observations,
        "n_steps": a.n_steps,
        "n_obs": a.n_obs,
    }


def _run(r: RunState) -> Obj:
    return {
        "agent_id": r.agent_id,
        "started_ms": r.started_ms,
        "status": r.status,
        "started_seen": r.started_seen,
        "goal_id": r.goal_id,
        "goal_description": r.goal_description,
        "stream_id": r.stream_id,
        "input_data": r.input_data,
        "output_data": r.output_data,
        "completed_ms": r.completed_ms,
        "narrative": r.narrative,
        "total_decisions": r.total_decisions,
        "successful": r.successful,
        "failed": r.failed,
        "tokens": r.tokens,
        "latency_ms": r.latency_ms,
        "nodes": r.nodes,
        "pending": {k: [*entry[:4], _facts(entry[4])] for k, entry in r.pending.items()},
        "unsuccessful": r.unsuccessful,
        "streak": r.streak,
        "problems": r.problems,
        "problem_count": r.problem_count,
        "critical": r.critical,
        "warnings": r.warnings,
        "critical_count": r.critical_count,
        "warning_count": r.warning_count,
        "late_events": r.late_events,
        "ignored": r.ignored,
        "shed": r.shed,
        "early": r.early,
        "failures": [[*f[:3], _facts(f[3]), *f[4:]] for f in r.failures],
        "successes": r.successes,
        "node_stats": r.node_stats,
        "errors": r.errors,
        "decision_types": r.decision_types,
        "choices": r.choices,
        "goal_seen": r.goal_seen,
    }


def _facts(f: DecisionFacts) -> list[Any]:
    out: list[Any] = [f.chosen_desc, f.alternative, f.context_empty, f.constraints, f.decision_type]
    if f.goal_version:
        out += [f.goal_version, f.goal_relevant, f.goal_time_ms]
        if f.goal_evidence:
            out.append(f.goal_evidence)
    return out


def _facts_from(o: list[Any] | None) -> DecisionFacts:
    if o is None:  # a state written before decisions kept their facts
        return DecisionFacts("", None, False, (), "custom")
    chosen, alternative, empty, constraints, dtype = o[:5]
    facts = DecisionFacts(
        str(chosen),
        _opt_str(alternative),
        bool(empty),
        tuple(str(c) for c in constraints),
        str(dtype),
    )
    if len(o) > 5:
        facts.goal_version = int(o[5])
        facts.goal_relevant = tuple(str(c) for c in o[6])
        facts.goal_time_ms = int(o[7])
        if len(o) > 8:
            facts.goal_evidence = tuple(str(c) for c in o[8])
    return facts


def exec_to_json(ex: ExecState) -> Obj:
    """A JSON-ready view of the state. It shares the state's lists and dicts: encode it
    before the state changes again."""
    o: Obj = {
        "execution_id": ex.execution_id,
        "run": _run(ex.run),
        "last_event_ms": ex.last_event_ms,
        "windows": {start: _window(w) for start, w in ex.windows.items()},
        "closed_through": ex.closed_through,
        "late_pending": ex.late_pending,
        "healing": {key: _heal(h) for key, h in ex.healing.items()},
        "actions": {aid: action_to_json(a) for aid, a in ex.actions.items()},
        "timers": ex.timers,
        "max_seq": ex.max_seq,
        "missing": ex.missing,
        "seq_overflow": ex.seq_overflow,
        "seen_ids": ex.seen_ids,
        "size": ex.size,
        "unmeasured": ex.unmeasured,
    }
    if ex.incarnation != 1:  # a run under a reused execution id; others stay as they were
        o["incarnation"] = ex.incarnation
        o["born_ms"] = ex.born_ms
    return o


# ─── back ───────────────────────────────────────────────────────────────────────────


def _sample_from(o: Obj) -> Sample:
    return Sample(
        int(o["n"]), int(o["first_t"]), float(o["first_v"]), int(o["last_t"]), float(o["last_v"])
    )


def _window_from(o: Obj) -> WindowAcc:
    return WindowAcc(
        int(o["start"]),
        int(o["events"]),
        _sample_from(o["progress"]),
        _sample_from(o["exposure"]),
        int(o["max_streak"]),
        {str(k): int(v) for k, v in o["repeats"].items()},
    )


def _heal_from(o: Obj) -> HealRec:
    return HealRec(
        str(o["key"]),
        str(o["action_type"]),
        str(o["tier"]),
        str(o["status"]),
        int(o["attempts"]),
        int(o["initiated_ms"]),
        int(o["reported"]),
        None if o["error_code"] is None else str(o["error_code"]),
        float(o["score"]),
        int(o["window_start"]),
        int(o["window_end"]),
    )


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def _action_from(o: Obj) -> OpenAction:
    return OpenAction(
        str(o["action_id"]),
        str(o["action_type"]),
        str(o["agent_id"]),
        _opt_str(o["goal_id"]),
        _opt_str(o["parent_action_id"]),
        dict(o["expected_outcome"]),
        [str(c) for c in o["acceptance_criteria"]],
        int(o["started_ms"]),
        [float(c) for c in o["confidences"]],
        [(str(d), str(s), float(c)) for d, s, c in o["steps"]],
        [(int(t), str(k), dict(d), str(s), float(c)) for t, k, d, s, c in o["observations"]],
        int(o["n_steps"]),
        int(o["n_obs"]),
    )


def _run_from(o: Obj) -> RunState:
    completed = o["completed_ms"]
    return RunState(
        agent_id=str(o["agent_id"]),
        started_ms=int(o["started_ms"]),
        status=str(o["status"]),
        started_seen=bool(o["started_seen"]),
        goal_id=str(o["goal_id"]),
        goal_description=str(o["goal_description"]),
        stream_id=str(o["stream_id"]),
        input_data=dict(o["input_data"]),
        output_data=dict(o["output_data"]),
        completed_ms=None if completed is None else int(completed),
        narrative=str(o["narrative"]),
        total_decisions=int(o["total_decisions"]),
        successful=int(o["successful"]),
        failed=int(o["failed"]),
        tokens=int(o["tokens"]),
        latency_ms=int(o["latency_ms"]),
        nodes=[str(n) for n in o["nodes"]],
        pending={
            str(k): (
                int(p[0]),
                str(p[1]),
                str(p[2]),
                str(p[3]),
                _facts_from(p[4] if len(p) > 4 else None),
            )
            for k, p in o["pending"].items()
        },
        unsuccessful=[(int(i), str(intent)) for i, intent in o["unsuccessful"]],
        streak=int(o["streak"]),
        problems=[dict(p) for p in o["problems"]],
        problem_count=int(o["problem_count"]),
        critical=[str(c) for c in o["critical"]],
        warnings=[str(w) for w in o["warnings"]],
        critical_count=int(o["critical_count"]),
        warning_count=int(o["warning_count"]),
        late_events=int(o["late_events"]),
        ignored={str(k): int(v) for k, v in o["ignored"].items()},
        # absent from states written before the state budget existed
        shed={str(k): int(v) for k, v in o.get("shed", {}).items()},
        # absent from states written before runs kept their summary facts
        early=[
            (int(i), str(n), str(t), str(c), int(st), str(cid))
            for i, n, t, c, st, cid in o.get("early", [])
        ],
        failures=[
            [int(i), str(n), str(t), _facts_from(f), str(e), bool(h)]
            for i, n, t, f, e, h in o.get("failures", [])
        ],
        successes=[[int(i), str(t)] for i, t in o.get("successes", [])],
        node_stats={str(k): [int(x) for x in v] for k, v in o.get("node_stats", {}).items()},
        errors={str(k): int(v) for k, v in o.get("errors", {}).items()},
        decision_types={str(k): int(v) for k, v in o.get("decision_types", {}).items()},
        choices={
            str(k): {str(d): int(n) for d, n in v.items()} for k, v in o.get("choices", {}).items()
        },
        goal_seen=bool(o.get("goal_seen", False)),
    )


def exec_from_json(o: Obj) -> ExecState:
    """The inverse of `exec_to_json` (after a JSON round trip); KeyError or TypeError or
    ValueError when a field is missing or of the wrong kind."""
    return ExecState(
        execution_id=str(o["execution_id"]),
        run=_run_from(o["run"]),
        last_event_ms=int(o["last_event_ms"]),
        windows={int(k): _window_from(w) for k, w in o["windows"].items()},
        closed_through=int(o["closed_through"]),
        late_pending=int(o["late_pending"]),
        healing={str(k): _heal_from(h) for k, h in o["healing"].items()},
        actions={str(k): _action_from(a) for k, a in o["actions"].items()},
        timers={str(k): int(v) for k, v in o["timers"].items()},
        max_seq=int(o["max_seq"]),
        missing=[int(s) for s in o["missing"]],
        seq_overflow=int(o["seq_overflow"]),
        seen_ids={str(k): None for k in o["seen_ids"]},
        size=int(o.get("size", 0)),
        unmeasured=int(o.get("unmeasured", 0)),
        # present only for a run under a reused execution id
        incarnation=int(o.get("incarnation", 1)),
        born_ms=int(o.get("born_ms", NO_TIME)),
    )
