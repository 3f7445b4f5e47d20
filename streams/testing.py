"""A synthetic, deterministic telemetry log for benchmarks and tests (seeded RNG).

Runs start and end, metrics, decisions with outcomes, actions with steps and
observations — the mix the fold sees in production, at any size.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import orjson

from schemas.envelope import envelope, goal_defined
from schemas.timefmt import parse_rfc3339_ms

T0 = parse_rfc3339_ms("2026-11-22T00:00:00Z")
KINDS = ("metric", "metric", "decision", "outcome", "step", "observation")


# The generated runs' goal ("g"), defined with three criteria: two that the generated
# decisions bear on (half of them each) and one they never do — what scoring them costs.
GOAL_G: dict[str, Any] = {
    "goal_id": "g",
    "version": 1,
    "name": "bench goal",
    "success_criteria": [
        {"id": "sc-choose", "description": "choose the next step", "weight": 0.5},
        {"id": "sc-act", "description": "act on the choice"},
        {"id": "sc-other", "description": "something else entirely"},
    ],
}


def goal_g_line(time_ms: int = T0) -> bytes:
    """GOAL_G's `goal_defined` event (for `produce_lines`, which writes it to every
    partition)."""
    return orjson.dumps(goal_defined(GOAL_G, time_ms))


def generate(n_events: int, n_executions: int, seed: int = 7) -> list[bytes]:
    """A realistic mix: runs start and end, metrics, decisions with outcomes, actions."""
    return list(iter_generate(n_events, n_executions, seed))


def iter_generate(
    n_events: int, n_executions: int, seed: int = 7, concurrent: int | None = None
) -> Iterator[bytes]:
    """`generate`, one line at a time (for logs too large to hold).

    By default every event picks one of all the executions at random, so all of them
    live for the whole log. With `concurrent`, executions take turns instead: that many
    run at once, each for n_events / n_executions events ending with `run_ended`, and a
    new one takes its place — a long log through a bounded working set."""
    rng = random.Random(seed)
    seqs = [0] * n_executions
    decisions = [0] * n_executions
    live = [False] * n_executions
    length = max(2, n_events // n_executions) if concurrent else 0
    pool = list(range(min(concurrent or 0, n_executions)))
    fresh = len(pool)  # the next execution to take a turn
    t = T0
    produced = 0
    while produced < n_events:
        if concurrent:
            if not pool:
                return
            slot = rng.randrange(len(pool))
            i = pool[slot]
        else:
            i = rng.randrange(n_executions)
        subject = f"exec-{i:06d}"
        t += rng.randint(0, 40)
        seqs[i] += 1
        data: dict[str, Any]
        if not live[i]:
            live[i] = True
            kind, data = "run_started", {"goal_id": "g", "stream_id": "s"}
        elif seqs[i] == length if concurrent else seqs[i] % 400 == 0:
            live[i] = False
            kind, data = "run_ended", {"success": True}
            if concurrent:  # its turn is over
                if fresh < n_executions:
                    pool[slot] = fresh
                    fresh += 1
                else:
                    pool[slot] = pool[-1]
                    pool.pop()
        elif seqs[i] % 50 == 2:
            kind = "action_started"
            data = {"action_id": f"{subject}-a{seqs[i]}", "action_type": "t"}
        elif seqs[i] % 50 == 40:
            kind = "action_completed"
            data = {"action_id": f"{subject}-a{seqs[i] - 38}", "outcome": {"ok": 1}}
        else:
            kind = rng.choice(KINDS)
            aid = f"{subject}-a{seqs[i] - seqs[i] % 50 + 2}"
            if kind == "metric":
                name = rng.choice(("impressions", "engagements", "latency"))
                data = {"name": name, "value": seqs[i] * 3.0, "unit": "n"}
            elif kind == "decision":
                data = {
                    "decision_id": f"dec_{decisions[i]}",
                    "node_id": "planner",
                    # each bears on one of GOAL_G's criteria, by two of its words
                    "intent": "choose the next step" if decisions[i] % 2 else "act on choice",
                    "chosen_option_id": "a",
                }
                decisions[i] += 1
            elif kind == "outcome":
                data = {
                    "decision_id": f"dec_{max(0, decisions[i] - 1)}",
                    "success": True,
                    "result": {"n": 1},
                    "tokens_used": 12,
                }
            elif kind == "step":
                data = {"action_id": aid, "description": "step", "confidence": 0.7}
            else:
                data = {"action_id": aid, "observation_type": "sensor", "data": {"v": 1}}
        env = envelope(
            kind,
            id=f"{subject}-{seqs[i]}",
            source=f"agent-{i % 97}",
            time_ms=t,
            subject=subject,
            seq=seqs[i],
            data=data,
        )
        yield orjson.dumps(env)
        produced += 1


def batched(lines: Iterable[bytes], max_events: int) -> list[bytes]:
    """Group events into SDK-style messages: JSON arrays of one execution's events, up
    to `max_events` each, in the order the arrays fill up (the rest at the end)."""
    return list(iter_batched(lines, max_events))


def iter_batched(lines: Iterable[bytes], max_events: int) -> Iterator[bytes]:
    """`batched`, one message at a time."""
    pending: dict[str, list[bytes]] = {}
    for line in lines:
        subject = orjson.loads(line)["subject"]
        group = pending.setdefault(subject, [])
        group.append(line)
        if len(group) >= max_events:
            yield b"[" + b",".join(group) + b"]"
            del pending[subject]
    for group in pending.values():
        yield b"[" + b",".join(group) + b"]"


# ─── hostile input ───────────────────────────────────────────────────────────────────

HOSTILE_PREFIX = "evil-"
PAST = parse_rfc3339_ms("2026-11-01T00:00:00Z")  # behind any clock a test runs on


class Hostile(NamedTuple):
    """One message a hostile or broken producer sends, and what must become of it:
    a dead-letter reason, or "folded" (it is valid; the fold applies or ignores it)."""

    key: bytes | None
    value: bytes
    expect: str


def hostile(n_messages: int, seed: int = 13) -> list[Hostile]:
    """`n_messages` messages of every kind of trouble, for executions named `evil-*`:
    malformed bytes, schema violations (time, seq, numbers beyond 64 bits, unknown
    types), keys that are not the subject, clocks decades ahead, attempts for unknown
    executions, and valid events at the edge — stamped in the past, so that they move
    no one's clock — with reused ids and seqs, restarted runs, huge and deep payloads."""
    rng = random.Random(seed)
    out: list[Hostile] = []
    seqs: dict[str, int] = {}

    def event(subject: str, kind: str, data: dict[str, Any], **over: Any) -> dict[str, Any]:
        seq = seqs.get(subject, 0) + 1
        seqs[subject] = seq
        doc = envelope(
            kind, id=f"{subject}-{seq}", source="evil-agent", time_ms=PAST + seq * 1000,
            subject=subject, seq=seq, data=data,
        )  # fmt: skip
        doc.update(over)
        return doc

    while len(out) < n_messages:
        i = rng.randrange(10**6)
        subject = f"{HOSTILE_PREFIX}{i % 97}"
        key = subject.encode()
        roll = rng.randrange(14)
        if roll == 0:
            out.append(Hostile(key, rng.randbytes(rng.randrange(1, 64)), "invalid_json"))
        elif roll == 1:
            text = orjson.dumps(event(subject, "metric", {"name": "m", "value": 1}))
            out.append(Hostile(key, text[: rng.randrange(1, len(text) - 1)], "invalid_json"))
        elif roll == 2:
            doc = event(subject, "metric", {"name": "m", "value": 1}, time="yesterday")
            out.append(Hostile(key, orjson.dumps(doc), "schema_violation"))
        elif roll == 3:
            data = {"decision_id": "dec_0", "success": True, "tokens_used": 2**64 - 1}
            out.append(
                Hostile(key, orjson.dumps(event(subject, "outcome", data)), "schema_violation")
            )
        elif roll == 4:
            doc = event(subject, "metric", {"name": "m", "value": 1}, type="agentfold.telepathy")
            out.append(Hostile(key, orjson.dumps(doc), "unknown_type"))
        elif roll == 5:
            doc = event(subject, "metric", {"name": "m", "value": 1})
            out.append(Hostile(b"someone-else", orjson.dumps(doc), "key_mismatch"))
        elif roll == 6:
            doc = event(subject, "metric", {"name": "m", "value": 1}, time="2099-01-01T00:00:00Z")
            out.append(Hostile(key, orjson.dumps(doc), "clock_skew"))
        elif roll == 7:
            orphan = f"{HOSTILE_PREFIX}orphan-{i}"
            data = {"idempotency_key": "sheal_" + "0" * 32, "attempt": 1, "outcome": "success",
                    "elapsed_s": 0.1}  # fmt: skip
            doc = event(orphan, "healing_attempt", data)
            out.append(Hostile(orphan.encode(), orjson.dumps(doc), "unknown_execution"))
        elif roll == 8:  # valid: a run, with a payload at the edge of the numbers
            data = {
                "goal_id": "g",
                "input_data": {"big": 10**30, "max": 2**64 - 1, "neg": -(2**63)},
            }
            written = json.dumps(event(subject, "run_started", data))  # writes any integer
            out.append(Hostile(key, written.encode(), "folded"))
        elif roll == 9:  # valid: an id reused (a resend of the first event)
            doc = event(subject, "metric", {"name": "impressions", "value": 5.0})
            doc["id"], doc["seq"] = f"{subject}-1", None
            out.append(Hostile(key, orjson.dumps(doc), "folded"))
        elif roll == 10:  # valid: a seq reused with other content
            doc = event(subject, "metric", {"name": "engagements", "value": float(i)})
            doc["seq"] = max(1, doc["seq"] - 1)
            out.append(Hostile(key, orjson.dumps(doc), "folded"))
        elif roll == 11:  # valid: a large, deep payload
            deep: Any = 1
            for _ in range(100):
                deep = {"d": deep}
            data = {"goal_id": "g" * 5000, "input_data": {"blob": "é" * 4000, "deep": deep}}
            out.append(Hostile(key, orjson.dumps(event(subject, "run_started", data)), "folded"))
        elif roll == 12:  # valid: a decision with extreme numbers in its context
            data = {"decision_id": f"dec_{i}", "intent": "i", "chosen_option_id": "a",
                    "input_context": {"x": 1e308, "y": -0.0, "z": 5e-324}}  # fmt: skip
            out.append(Hostile(key, orjson.dumps(event(subject, "decision", data)), "folded"))
        else:  # valid: the run ends (and may start again later)
            doc = event(subject, "run_ended", {"success": rng.random() < 0.5})
            out.append(Hostile(key, orjson.dumps(doc), "folded"))
    return out
