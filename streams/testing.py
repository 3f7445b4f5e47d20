"""A synthetic, deterministic telemetry log for benchmarks and tests (seeded RNG).

Runs start and end, metrics, decisions with outcomes, actions with steps and
observations — the mix the fold sees in production, at any size.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from schemas.envelope import envelope
from schemas.timefmt import parse_rfc3339_ms

T0 = parse_rfc3339_ms("2026-11-22T00:00:00Z")
KINDS = ("metric", "metric", "decision", "outcome", "step", "observation")


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
                    "intent": "choose",
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
