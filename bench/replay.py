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
import re
import subprocess
import sys
import threading
import time
from itertools import islice
from pathlib import Path

from benchbroker import add_broker_arg, bench_broker
from ceiling import raw_consume

from streams.kafka.topicio import produce_lines
from streams.kafka.topics import create_topics
from streams.testing import iter_batched, iter_generate

TARGET = 150_000
ROOT = Path(__file__).resolve().parents[1]


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


def run_replay(bootstrap: str, ns: str, jobs: int) -> tuple[dict[str, float], float, float]:
    """`agentfold replay` as a user runs it, records to /dev/null; (its summary figures,
    wall seconds including interpreter start-up, peak RSS in MiB of the process tree)."""
    cmd = [sys.executable, "-m", "streams.cli", "replay", "--broker", bootstrap]
    cmd += ["--prefix", ns, "--out", os.devnull, "--jobs", str(jobs)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, cwd=ROOT)
    peak = [0]
    sampler = threading.Thread(target=_sample_rss, args=(proc, peak), daemon=True)
    sampler.start()
    _, err_bytes = proc.communicate()
    wall = time.perf_counter() - started
    err = err_bytes.decode()
    sampler.join()
    assert proc.returncode == 0, err
    summary = err.strip().splitlines()[-1]
    m = re.search(r"([\d,]+) events, .* → ([\d,]+) records .* in ([\d.]+)s", summary)
    assert m, summary
    figures = {
        "events": float(m.group(1).replace(",", "")),
        "records": float(m.group(2).replace(",", "")),
        "seconds": float(m.group(3)),
    }
    return figures, wall, peak[0] / 1024


def _tree(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return [pid]
    return [pid] + [p for k in kids for p in _tree(k)]


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _sample_rss(proc: subprocess.Popen[bytes], peak: list[int]) -> None:
    """Peak resident memory of the process and its children (Linux /proc, every 20 ms);
    sampled because ru_maxrss would count the pages of the forking parent."""
    while proc.poll() is None:
        peak[0] = max(peak[0], sum(_rss_kib(p) for p in _tree(proc.pid)))
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--executions", type=int, default=5_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--batch", type=int, default=50, help="events per message")
    add_broker_arg(parser)
    args = parser.parse_args()
    with bench_broker(args.broker) as (bs, prefix, where):
        ns = f"{prefix}rp"
        asyncio.run(create_topics(bs, ns, args.partitions))
        started = time.perf_counter()
        messages, size = asyncio.run(
            produce_log(
                bs, f"{ns}.telemetry", args.events, args.executions, args.batch, args.partitions
            )
        )
        print(
            f"bench/replay.py: {args.events:,} events in {messages:,} messages "
            f"(≤{args.batch} events of one execution each), {size / args.events:.0f} B/event, "
            f"{args.executions:,} keys, {args.partitions} partitions, {where}; "
            f"produced in {time.perf_counter() - started:.0f}s"
        )
        raw_n, raw_s = asyncio.run(raw_consume(bs, f"{ns}.telemetry"))
        assert raw_n == messages, (raw_n, messages)
        raw = args.events / raw_s
        print(f"  (a) raw aiokafka + orjson            {raw:>10,.0f} events/s")
        rates = {}
        rss = {}
        for label, jobs in (("one process per CPU", os.cpu_count() or 1), ("one process", 1)):
            figures, wall, rss[jobs] = run_replay(bs, ns, jobs)
            assert figures["events"] == args.events, (figures, args.events)
            rate = figures["events"] / figures["seconds"]
            rates[jobs] = rate
            print(
                f"  (b) replay, {label + f' ({jobs})':<24} {rate:>10,.0f} events/s"
                f"   {rate / raw:5.2f}× raw   {figures['records']:,.0f} records in "
                f"{figures['seconds']:.1f}s ({wall:.1f}s with start-up)"
            )
        print(
            "  peak RSS of the replay process tree: "
            + ", ".join(f"{j} job(s) {mb:.0f} MiB" for j, mb in rss.items())
        )
    best = max(rates.values())
    print(
        f"  target: replay ≥ {TARGET:,} events/s → "
        f"{'met' if best >= TARGET else 'NOT met'} ({best:,.0f})"
    )


if __name__ == "__main__":
    main()
