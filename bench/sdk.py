"""SDK throughput on the embedded broker, with the raw consume ceiling of the same run.

N events are recorded through `Recorder` by runs spread over many executions (metrics,
decisions with outcomes, steps), then flushed. Reported: the agent-side cost per call,
and events/s from the first call until everything is delivered — both against the raw
aiokafka consume + orjson rate of the very messages the SDK wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from benchbroker import add_broker_arg, bench_broker
from ceiling import raw_consume

from streams.kafka.topicio import end_offsets
from streams.kafka.topics import create_topics
from streams.sdk.recorder import Recorder


def record(rec: Recorder, events: int, executions: int) -> float:
    """Seconds spent inside SDK calls for `events` events."""
    runs = [
        rec.start_run("bench", "benchmark", execution_id=f"exec-{i:05d}") for i in range(executions)
    ]
    spent = 0.0
    n = executions
    i = 0
    while n < events:
        run = runs[i % executions]
        t = time.perf_counter()
        if i % 4 == 0:
            d = run.decide("choose", [{"id": "a"}], "a", "cheapest")
            run.record_outcome(d, success=True, tokens_used=3)
            n += 2
        else:
            run.metric("impressions", float(i))
            n += 1
        spent += time.perf_counter() - t
        i += 1
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--executions", type=int, default=2_000)
    parser.add_argument("--partitions", type=int, default=8)
    add_broker_arg(parser)
    args = parser.parse_args()
    with bench_broker(args.broker) as (bs, prefix, where):
        ns = f"{prefix}sdk"
        asyncio.run(create_topics(bs, ns, args.partitions))
        started = time.perf_counter()
        with Recorder(broker=bs, topic_prefix=ns, max_buffered_events=args.events) as rec:
            spent = record(rec, args.events, args.executions)
            assert rec.flush(timeout_s=600)
            assert rec.dropped == 0
        total = time.perf_counter() - started
        messages = sum(asyncio.run(end_offsets(bs, f"{ns}.telemetry")).values())
        raw_n, raw_s = asyncio.run(raw_consume(bs, f"{ns}.telemetry"))
        assert raw_n == messages
        raw = args.events / raw_s
        rate = args.events / total
        print(
            f"bench/sdk.py: {args.events:,} events from {args.executions:,} executions in "
            f"{messages:,} messages ({args.events / messages:.0f} events/message), "
            f"{args.partitions} partitions, {where}"
        )
        print(f"  raw aiokafka + orjson of those messages {raw:>10,.0f} events/s")
        print(
            f"  SDK, record → delivered                 {rate:>10,.0f} events/s   "
            f"{rate / raw:5.2f}× raw   ({spent / args.events * 1e6:.1f} µs/event in the "
            "agent's calls)"
        )


if __name__ == "__main__":
    main()
