"""Scaling out: one worker process vs two in the same group, on the same log, in one run.

  (a) raw    aiokafka consume + orjson.loads of every message — the ceiling
  (1) one `agentfold worker` process folding the log
  (2) two of them in one consumer group, sharing its partitions
  (r) restore: the time a worker takes to rebuild its partitions' state from the
      changelog the one-process run wrote (what a partition that moves costs its new
      owner), per execution

Both worker stages are timed between commits while busy (bench/live.py), alternating,
--rounds times, each in a fresh group; printed are medians, the median of the rounds'
ratios, and CPU µs per event over all processes. Two processes cannot beat one by more
than the machine's free cores allow, with the broker and this script beside them: the
core count is printed so that a reader can judge the gain.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections import Counter

from benchbroker import add_broker_arg, bench_broker
from ceiling import raw_consume
from live import Stage, line, ratio, timed_group, worker_cmd

from processors.config import FoldConfig
from streams.kafka.topicio import produce_lines
from streams.kafka.topics import create_topics
from streams.testing import batched, generate
from streams.worker.restore import Restorer


def workers_timing(
    bootstrap: str, ns: str, partitions: int, group: str, copies: int
) -> tuple[float, float | None]:
    cmd = [*worker_cmd(bootstrap, ns, partitions), "--app-id", group]
    timing = timed_group(bootstrap, group, f"{ns}.telemetry", cmd, dict(os.environ), copies=copies)
    return timing.seconds, timing.cpu_seconds


async def restore_all(bootstrap: str, changelog: str, partitions: int) -> tuple[int, float]:
    """(executions restored, seconds) over every partition of a changelog."""
    restorer = Restorer(bootstrap, FoldConfig(), changelog, Counter())
    try:
        started = time.perf_counter()
        executions = 0
        for p in range(partitions):
            executions += len((await restorer.restore(p)).fold.state.execs)
        return executions, time.perf_counter() - started
    finally:
        await restorer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--per-message", type=int, default=20, help="events per message")
    parser.add_argument("--rounds", type=int, default=2, help="runs of (1) and (2), alternating")
    add_broker_arg(parser)
    args = parser.parse_args()
    lines = generate(args.events, args.executions)
    messages = batched(lines, args.per_message)
    per_message = len(lines) / len(messages)
    with bench_broker(args.broker) as (bs, prefix, where):
        print(
            f"bench/scale.py: {len(lines):,} events in {len(messages):,} messages "
            f"({per_message:.1f} events each), {args.executions:,} executions, "
            f"{args.partitions} partitions, {where}; {os.cpu_count()} cores on this machine"
        )
        ns = f"{prefix}sc"
        asyncio.run(create_topics(bs, ns, args.partitions))
        asyncio.run(produce_lines(bs, f"{ns}.telemetry", messages, args.partitions))
        raw_n, raw_s = asyncio.run(raw_consume(bs, f"{ns}.telemetry"))
        raw = raw_n * per_message / raw_s
        print(f"  {'(a) raw aiokafka + orjson':<34} {raw:>10,.0f} events/s")
        one = Stage("(1) one worker process", len(lines))
        two = Stage("(2) two worker processes", len(lines))
        for r in range(args.rounds):
            for stage, copies in ((one, 1), (two, 2)):
                seconds, cpu = workers_timing(
                    bs, ns, args.partitions, f"{ns}-{copies}w-{r}", copies
                )
                stage.rates.append(stage.events / seconds)
                if cpu is not None:
                    stage.cpu_us.append(cpu / stage.events * 1e6)
        line(one, raw, None)
        line(two, raw, None)
        gain = ratio(two, one)
        print(
            f"  two processes / one: {gain:.2f}× (runs "
            + ", ".join(f"{b / a:.2f}" for a, b in zip(one.rates, two.rates, strict=True))
            + f") on {os.cpu_count()} cores shared with the broker"
        )
        changelog = f"{ns}-1w-0-state-changelog"
        times = [asyncio.run(restore_all(bs, changelog, args.partitions)) for _ in range(3)]
        executions = times[0][0]
        seconds = statistics.median(t for _, t in times)
        print(
            f"  (r) restore of {executions:,} executions over {args.partitions} partitions "
            f"from the changelog: {seconds:.2f} s ({executions / seconds:,.0f} executions/s, "
            f"{seconds / max(executions, 1) * 1e6:.0f} µs each)"
        )


if __name__ == "__main__":
    main()
