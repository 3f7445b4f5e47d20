"""Throughput of the pure fold on a generated log (no broker): `make bench`.

Stages, measured in one run on one core over the same log:
  parse    orjson.loads of every message — the offline ceiling
  decode   parse + pydantic validation into events (schemas.codec)
  fold     PartitionFold.apply over pre-decoded events — the pure fold
  end2end  decode + route + fold, as `agentfold fold` does
The raw Kafka-consumer ceiling is measured by bench/live.py (needs the broker).
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable
from typing import Any

import orjson

from processors.config import FoldConfig
from processors.fold import PartitionFold
from schemas.codec import decode_message
from schemas.timefmt import format_ms, parse_rfc3339_ms
from streams.offline import OfflineFold
from streams.partitioner import partition_for

T0 = parse_rfc3339_ms("2026-11-22T00:00:00Z")
KINDS = ("metric", "metric", "decision", "outcome", "step", "observation")


def generate(n_events: int, n_executions: int, seed: int = 7) -> list[bytes]:
    """A realistic mix: runs start and end, metrics, decisions with outcomes, actions."""
    rng = random.Random(seed)
    lines: list[bytes] = []
    seqs = [0] * n_executions
    decisions = [0] * n_executions
    live = [False] * n_executions
    t = T0
    produced = 0
    while produced < n_events:
        i = rng.randrange(n_executions)
        subject = f"exec-{i:06d}"
        t += rng.randint(0, 40)
        seqs[i] += 1
        env: dict[str, Any] = {
            "specversion": "1.0", "id": f"{subject}-{seqs[i]}", "source": f"agent-{i % 97}",
            "subject": subject, "time": format_ms(t), "seq": seqs[i], "schema_version": 1,
        }
        if not live[i]:
            live[i] = True
            env |= {"type": "agentfold.run_started", "data": {"goal_id": "g", "stream_id": "s"}}
        elif seqs[i] % 400 == 0:
            live[i] = False
            env |= {"type": "agentfold.run_ended", "data": {"success": True}}
        elif seqs[i] % 50 == 2:
            env |= {"type": "agentfold.action_started",
                    "data": {"action_id": f"{subject}-a{seqs[i]}", "action_type": "t"}}
        elif seqs[i] % 50 == 40:
            env |= {"type": "agentfold.action_completed",
                    "data": {"action_id": f"{subject}-a{seqs[i] - 38}", "outcome": {"ok": 1}}}
        else:
            kind = rng.choice(KINDS)
            aid = f"{subject}-a{seqs[i] - seqs[i] % 50 + 2}"
            if kind == "metric":
                name = rng.choice(("impressions", "engagements", "latency"))
                data: dict[str, Any] = {"name": name, "value": seqs[i] * 3.0, "unit": "n"}
            elif kind == "decision":
                data = {"decision_id": f"dec_{decisions[i]}", "node_id": "planner",
                        "intent": "choose", "chosen_option_id": "a"}
                decisions[i] += 1
            elif kind == "outcome":
                data = {"decision_id": f"dec_{max(0, decisions[i] - 1)}", "success": True,
                        "result": {"n": 1}, "tokens_used": 12}
            elif kind == "step":
                data = {"action_id": aid, "description": "step", "confidence": 0.7}
            else:
                data = {"action_id": aid, "observation_type": "sensor", "data": {"v": 1}}
            env |= {"type": f"agentfold.{kind}", "data": data}
        lines.append(orjson.dumps(env))
        produced += 1
    return lines


def timed(label: str, n: int, fn: Callable[[], Any], ceiling: float | None) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    rate = n / elapsed
    ratio = f"{rate / ceiling:5.2f}× ceiling" if ceiling else "   (ceiling)"
    print(f"  {label:<9} {rate:>12,.0f} events/s   {ratio}   {elapsed:6.2f} s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--executions", type=int, default=2_000)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    cfg = FoldConfig()
    lines = generate(args.events, args.executions)
    size = sum(len(x) for x in lines)
    print(
        f"bench/fold.py: {len(lines):,} events, {args.executions:,} keys, "
        f"{args.partitions} partitions, 1 event/message, "
        f"payload {size / len(lines):.0f} B/event ({size / 1e6:.1f} MB)"
    )
    events = [e for line in lines for e in decode_message(line).events]
    routed = [partition_for(e.subject or "", args.partitions) for e in events]

    def parse() -> None:
        for line in lines:
            orjson.loads(line)

    def decode() -> None:
        for line in lines:
            decode_message(line)

    def fold() -> None:
        folds = [PartitionFold(cfg, p) for p in range(args.partitions)]
        for e, p in zip(events, routed, strict=True):
            folds[p].apply(e)

    def end2end() -> None:
        folder = OfflineFold(cfg, args.partitions)
        for _ in folder.feed_lines(lines):
            pass

    ceiling = timed("parse", len(lines), parse, None)
    timed("decode", len(lines), decode, ceiling)
    fold_rate = timed("fold", len(lines), fold, ceiling)
    timed("end2end", len(lines), end2end, ceiling)
    verdict = "meets" if fold_rate >= 250_000 else "BELOW"
    print(f"  pure fold {verdict} the 250,000 events/s/core target ({fold_rate:,.0f})")


if __name__ == "__main__":
    main()
