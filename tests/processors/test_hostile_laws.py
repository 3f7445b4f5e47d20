"""The fold laws under hostile input (hypothesis): random logs of schema-valid events
with extreme times (far past, far future, equal, out of order), reused ids and seqs,
runs restarted under a reused execution id, healing attempts for unknown executions,
huge payloads and numbers at the edge, every kind. Folded, they never raise; every
execution's state stays within its budget; the same log twice, a redelivery and a
regrouping into batches change nothing; and once every run has ended and its timers
fired, nothing is left."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.budget import measure
from processors.config import FoldConfig
from schemas.events import INT64_MAX
from schemas.timefmt import format_ms
from streams.folding.offline import OfflineFold, render
from tests.factory import at

CFG = FoldConfig()
SMALL = FoldConfig(state_max_bytes=2000, payload_max_bytes=400)
PARTITIONS = 2
SUBJECTS = ["exec-a", "exec-b", "exec-c"]
KINDS = [
    "start", "metric", "decide", "outcome", "problem", "action", "step", "complete", "end",
    "tick", "future", "past", "same_seq", "same_id", "orphan_attempt", "huge", "edge_numbers",
]  # fmt: skip

step_st = st.tuples(
    st.integers(0, len(SUBJECTS) - 1),
    st.integers(-30, 200),  # minutes since the previous step; negative = out of order
    st.sampled_from(KINDS),
    st.integers(0, 1000),
)


class Producer:
    """One execution's producer, seqs and ids stamped as an SDK would — until told not to."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.seq = 0
        self.decisions = 0

    def event(self, kind: str, minutes: float, data: dict[str, Any], **over: Any) -> bytes:
        self.seq += 1
        obj = {
            "specversion": "1.0",
            "id": f"{self.subject}-{self.seq}",
            "source": f"agent-{self.subject}",
            "subject": self.subject,
            "type": f"agentfold.{kind}",
            "time": format_ms(at(minutes)),
            "seq": self.seq,
            "data": data,
            **over,
        }
        return orjson.dumps(obj)


def build(steps: list[tuple[int, int, str, int]], end_all: bool = False) -> list[bytes]:
    producers = {s: Producer(s) for s in SUBJECTS}
    now = 0.0
    lines: list[bytes] = []
    for idx, dt, kind, n in steps:
        now = max(0.0, now + dt)
        p = producers[SUBJECTS[idx]]
        action = f"{p.subject}-act{n % 3}"
        if kind == "start":
            lines.append(p.event("run_started", now, {"goal_id": "g"}))
        elif kind == "metric":
            name = "impressions" if n % 2 else "engagements"
            lines.append(p.event("metric", now, {"name": name, "value": n * 10.0}))
        elif kind == "decide":
            data = {
                "decision_id": f"dec_{p.decisions}",
                "intent": f"i{n % 3}",
                "chosen_option_id": "a",
            }
            p.decisions += 1
            lines.append(p.event("decision", now, data))
        elif kind == "outcome":
            data = {"decision_id": f"dec_{max(0, p.decisions - 1)}", "success": n % 3 != 0,
                    "result": {"r": n % 2}, "tokens_used": n}  # fmt: skip
            lines.append(p.event("outcome", now, data))
        elif kind == "problem":
            data = {"problem_id": f"prob_{n}", "severity": "critical", "description": "x"}
            lines.append(p.event("problem", now, data))
        elif kind == "action":
            data = {"action_id": action, "action_type": "t", "expected_outcome": {"v": n % 3}}
            lines.append(p.event("action_started", now, data))
        elif kind == "step":
            lines.append(p.event("step", now, {"action_id": action, "confidence": (n % 11) / 10}))
        elif kind == "complete":
            lines.append(
                p.event("action_completed", now, {"action_id": action, "outcome": {"v": 1}})
            )
        elif kind == "end":
            lines.append(p.event("run_ended", now, {"success": n % 2 == 0}))
        elif kind == "tick":
            lines.append(orjson.dumps({"specversion": "1.0", "id": f"tick-{len(lines)}",
                                       "source": "worker", "type": "agentfold.tick",
                                       "time": format_ms(at(now)), "data": {}}))  # fmt: skip
        elif kind == "future":  # a clock years ahead
            lines.append(p.event("metric", now + 10**6 * (1 + n % 3), {"name": "x", "value": 1}))
        elif kind == "past":  # a clock far behind
            lines.append(
                p.event("metric", max(0.0, now - 10**4), {"name": "impressions", "value": 1})
            )
        elif kind == "same_seq":  # a seq reused with other content
            p.seq = max(0, p.seq - 1)
            lines.append(p.event("metric", now, {"name": "engagements", "value": float(n)}))
        elif kind == "same_id":  # an id reused, no seq
            lines.append(p.event("metric", now, {"name": "impressions", "value": 2.0},
                                 id=f"{p.subject}-1", seq=None))  # fmt: skip
        elif kind == "orphan_attempt":
            data = {"idempotency_key": "sheal_" + "0" * 32, "attempt": 1 + n % 3,
                    "outcome": "success", "elapsed_s": 0.5}  # fmt: skip
            stranger = Producer(f"exec-nobody-{n % 2}")
            lines.append(stranger.event("healing_attempt", now, data))
        elif kind == "huge":
            blob = {"k": "é" * 3000, "n": list(range(n % 200))}
            lines.append(p.event("run_started", now, {"goal_id": "g" * 2000, "input_data": blob}))
        else:  # numbers at the edge
            edge = {"big": 2**64 - 1, "neg": -(2**63), "tiny": 5e-324, "huge": 1e308}
            data = {"decision_id": "dec_0", "success": True, "tokens_used": INT64_MAX,
                    "latency_ms": INT64_MAX, "result": edge}  # fmt: skip
            lines.append(p.event("outcome", now, data))
    if end_all:
        for p in producers.values():
            lines.append(p.event("run_ended", now + 1, {"success": True}))
    return lines


def fold(lines: list[bytes], cfg: FoldConfig) -> tuple[bytes, OfflineFold]:
    folder = OfflineFold(cfg, PARTITIONS)
    out = b"".join(render(e) + b"\n" for e in folder.feed_lines(lines))
    return out, folder


def within_budget(folder: OfflineFold, cfg: FoldConfig) -> None:
    slack = 4 * cfg.payload_max_bytes  # what the fold's estimate may miss (docs/guarantees.md)
    for f in folder.folds:
        for ex in f.state.execs.values():
            assert measure(ex) <= cfg.state_max_bytes + slack


LAW = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
logs = st.lists(step_st, min_size=1, max_size=60)
configs = st.sampled_from([CFG, SMALL])


@LAW
@given(logs, configs)
def test_hostile_logs_fold_twice_identically_and_within_budget(
    steps: list[Any], cfg: FoldConfig
) -> None:
    lines = build(steps)
    out, folder = fold(lines, cfg)
    assert fold(list(lines), cfg)[0] == out
    within_budget(folder, cfg)
    for line in out.splitlines():  # every record is valid JSON of what it claims
        record = orjson.loads(line)
        assert record["value"]["id"]


@LAW
@given(logs, st.data())
def test_hostile_redelivery_changes_nothing(steps: list[Any], data: st.DataObject) -> None:
    cfg = data.draw(configs)
    lines = build(steps)
    i = data.draw(st.integers(0, len(lines) - 1))
    j = data.draw(st.integers(i + 1, len(lines)))
    # A resent event changes nothing; a resent refusal (clock_skew, unknown_execution)
    # is dead-lettered again, where it now is.
    assert folded([*lines[:j], lines[i], *lines[j:]], cfg) == folded(lines, cfg)


def folded(lines: list[bytes], cfg: FoldConfig) -> list[bytes]:
    """The outputs but dead letters (whose ids name the line they came from)."""
    return [x for x in fold(lines, cfg)[0].splitlines() if b'"agentfold.deadletter"' not in x]


def refused(lines: list[bytes], cfg: FoldConfig) -> list[tuple[str, str]]:
    """The dead letters' reasons and original events, wherever they came from."""
    out = [orjson.loads(x)["value"] for x in fold(lines, cfg)[0].splitlines()]
    return sorted((v["reason"], v["original"]) for v in out if "reason" in v and "origin" in v)


@LAW
@given(logs, st.data())
def test_hostile_regrouping_changes_nothing(steps: list[Any], data: st.DataObject) -> None:
    cfg = data.draw(configs)
    lines = build(steps)
    grouped: list[bytes] = []
    batch: list[Any] = []
    for line in lines:
        obj = orjson.loads(line)
        same = batch and "subject" in obj and obj["subject"] == batch[0].get("subject")
        if batch and not (same and data.draw(st.booleans())):
            grouped.append(orjson.dumps(batch))
            batch = []
        batch.append(obj)
    grouped.append(orjson.dumps(batch))
    # Dead letters name their line and place in it: the same refusals, elsewhere.
    assert folded(grouped, cfg) == folded(lines, cfg)
    assert refused(grouped, cfg) == refused(lines, cfg)


@LAW
@given(logs)
def test_hostile_logs_leave_nothing_once_every_run_ended_and_timers_fired(steps: list[Any]) -> None:
    lines = build(steps, end_all=True)
    _, folder = fold(lines, CFG)
    # Then each partition's clock runs on, in steps within the jump limit, far past
    # every timer (run inactivity, action TTL) from wherever its stream time stands.
    step_ms = CFG.max_time_jump_s * 1000 // 2
    for p, f in enumerate(folder.folds):
        start = max(f.state.meta.stream_ms, at(0))
        ticks = [
            orjson.dumps({"specversion": "1.0", "id": f"late-{p}-{k}", "source": "worker",
                          "type": "agentfold.tick", "data": {"partition": p},
                          "time": format_ms(start + k * step_ms)})
            for k in range(1, 6)
        ]  # fmt: skip
        list(folder.feed_lines(ticks))
    for f in folder.folds:
        assert f.state.execs == {}
        assert f.state.open_actions == {}
