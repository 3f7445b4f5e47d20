"""Replay throughput on the embedded broker, with the raw consume ceiling of the same run.

A generated log (default 1,000,000 events, SDK-style messages of 50 events of one
execution) is produced once; then
  (a) raw    aiokafka consume + orjson.loads of every message — the ceiling
  (b) replay `agentfold replay` end to end (read, decode, fold, write the records),
             with one process per CPU (the default) and with one process
Target: (b) ≥ 150,000 events/s. Peak RSS of the replay processes is reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import time
from itertools import islice

from ceiling import raw_consume

from processors.config import FoldConfig
from streams.broker import EmbeddedBroker
from streams.replay import ReplayRequest, replay
from streams.synthetic import iter_batched, iter_generate
from streams.topicio import produce_lines
from streams.topics import create_topics

TARGET = 150_000


async def produce_log(
    bootstrap: str, topic: str, events: int, executions: int, batch: int, partitions: int
) -> tuple[int, int]:
    """Stream the generated log into the topic in chunks; (messages, bytes)."""
    messages = size = 0
    stream = iter_batched(iter_generate(events, executions), batch)
    while chunk := list(islice(stream, 5_000)):
        await produce_lines(bootstrap, topic, chunk, partitions, linger_ms=20)
        messages += len(chunk)
        size += sum(len(m) for m in chunk)
    return messages, size


def peak_rss_mb() -> tuple[float, float]:
    """(this process, largest child) peak resident set size in MiB (Linux: KiB units)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--executions", type=int, default=5_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--batch", type=int, default=50, help="events per message")
    args = parser.parse_args()
    with EmbeddedBroker() as bs:
        asyncio.run(create_topics(bs, "rp", args.partitions))
        started = time.perf_counter()
        messages, size = asyncio.run(
            produce_log(
                bs, "rp.telemetry", args.events, args.executions, args.batch, args.partitions
            )
        )
        print(
            f"bench/replay.py: {args.events:,} events in {messages:,} messages "
            f"(≤{args.batch} events of one execution each), {size / args.events:.0f} B/event, "
            f"{args.executions:,} keys, {args.partitions} partitions, embedded broker (Tansu); "
            f"produced in {time.perf_counter() - started:.0f}s"
        )
        raw_n, raw_s = asyncio.run(raw_consume(bs, "rp.telemetry"))
        assert raw_n == messages, (raw_n, messages)
        raw = args.events / raw_s
        print(f"  (a) raw aiokafka + orjson            {raw:>10,.0f} events/s")
        rates = {}
        for label, jobs in (("one process per CPU", os.cpu_count() or 1), ("one process", 1)):
            result = replay(ReplayRequest(bs, "rp", jobs=jobs), FoldConfig())
            shutil.rmtree(result.workdir, ignore_errors=True)
            assert result.events == args.events, (result.events, args.events)
            rate = result.events / result.elapsed_s
            rates[jobs] = rate
            print(
                f"  (b) replay, {label + f' ({result.jobs})':<24} {rate:>10,.0f} events/s"
                f"   {rate / raw:5.2f}× raw   {result.outputs:,} records in {result.elapsed_s:.1f}s"
            )
        own, child = peak_rss_mb()
        print(
            f"  peak RSS: bench + one-process replay {own:.0f} MiB, "
            f"largest replay job {child:.0f} MiB"
        )
    best = max(rates.values())
    print(
        f"  target: replay ≥ {TARGET:,} events/s → "
        f"{'met' if best >= TARGET else 'NOT met'} ({best:,.0f})"
    )


if __name__ == "__main__":
    main()
