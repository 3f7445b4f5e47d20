"""Live throughput on the embedded broker, all measured in one run.

Stages (a)–(c) use the first --single-events events, (d) all --events of them.

  (a) raw    aiokafka consume + orjson.loads of every message — the ceiling
  (b) noop   a Faust agent that does nothing per message
  (c) worker `agentfold worker` on single-event messages
  (d) worker `agentfold worker` on SDK-style messages of 50 events
  (e) the worker's resident memory over --rss-events events / --rss-executions
      executions (1,000,000 / 20,000; 500 running at a time, runs of 50 events, in
      10-event messages), sampled at each quarter of the way: bounded state keeps it
      flat however long the log
Rates for (b)–(d) run from the first committed progress to fully caught up, so process
start-up and group joins are not counted; next to each, the process's CPU time per event
over the same span (all its threads), which varies less with the machine's other load.
Targets: (d) ≥ 100,000 events/s per worker process; (c) ≥ 0.6 × (b).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from ceiling import raw_consume

from streams.broker import EmbeddedBroker
from streams.synthetic import batched, generate, iter_batched, iter_generate
from streams.topicio import end_offsets, group_positions, produce_lines
from streams.topics import create_topics
from streams.worker import worker_argv

ROOT = Path(__file__).resolve().parents[1]


class Timing(NamedTuple):
    seconds: float
    cpu_seconds: float | None = None  # the process's CPU time (all threads) meanwhile


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_group(
    bootstrap: str,
    group: str,
    topic: str,
    cmd: list[str],
    env: dict,
    on_poll: Callable[[float, int], None] | None = None,
) -> Timing:
    """Run a consumer process; seconds (and its CPU seconds) from its first committed
    progress to caught up, extrapolated to the whole log.
    `on_poll(fraction committed, pid)` is called at every poll."""
    total = sum(asyncio.run(end_offsets(bootstrap, topic)).values())
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        first: tuple[float, int, float] | None = None
        last_untouched = (time.monotonic(), 0.0)  # last poll that saw no progress at all
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            try:
                lag = sum(asyncio.run(group_positions(bootstrap, group, topic)).values())
            except Exception:
                lag = total
            now, cpu = time.monotonic(), cpu_seconds(proc.pid)
            if on_poll is not None:
                on_poll(1 - lag / max(total, 1), proc.pid)
            if lag >= total:
                last_untouched = (now, cpu)
            elif first is None:
                first = (now, lag, cpu)
            if lag == 0:
                # Finished between two polls: time it from the last untouched poll
                # (conservative: it includes part of the start-up).
                if first is None or first[1] == 0:
                    start, lag_at_start, cpu_start = last_untouched[0], total, last_untouched[1]
                else:
                    start, lag_at_start, cpu_start = first
                scale = total / max(lag_at_start, 1)
                return Timing((now - start) * scale, (cpu - cpu_start) * scale)
            time.sleep(0.1)
        raise TimeoutError(f"{cmd[2:4]} did not catch up")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for row in status:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    return 0.0


def rss_stage(bootstrap: str, n_events: int, n_executions: int, partitions: int) -> None:
    """(e): produce a long log, run the worker over it, sample its RSS per quarter."""
    asyncio.run(create_topics(bootstrap, "br", partitions))
    # Executions take turns (500 at a time, each a 50-event run): the log grows, the
    # working set does not. 10-event messages interleave the executions' runs.
    log = iter_batched(iter_generate(n_events, n_executions, seed=11, concurrent=500), 10)
    asyncio.run(produce_lines(bootstrap, "br.telemetry", log, partitions))
    marks: dict[float, float] = {}

    def sample(done: float, pid: int) -> None:
        for quarter in (0.25, 0.5, 0.75, 1.0):
            if done >= quarter and quarter not in marks:
                marks[quarter] = rss_mib(pid)

    cmd = worker_cmd(bootstrap, "br", partitions)
    seconds = timed_group(bootstrap, "br", "br.telemetry", cmd, dict(os.environ), sample).seconds
    at = "  ".join(f"{int(q * 100)}% {mb:.0f} MiB" for q, mb in sorted(marks.items()))
    growth = marks[1.0] / marks[0.25] - 1 if marks.get(0.25) else float("nan")
    print(
        f"  (e) worker RSS over {n_events:,} events / {n_executions:,} executions: {at}; "
        f"growth from the first quarter to the end {growth:+.0%} "
        f"({n_events / seconds:,.0f} events/s)"
    )


def worker_cmd(bootstrap: str, ns: str, partitions: int) -> list[str]:
    return worker_argv(bootstrap, ns, partitions, log_level="warning")


def line(
    label: str, events: int, timing: Timing, ceiling: float | None, noop: float | None
) -> float:
    rate = events / timing.seconds
    parts = [f"  {label:<34} {rate:>10,.0f} events/s"]
    if ceiling:
        parts.append(f"{rate / ceiling:5.2f}× raw")
    if noop:
        parts.append(f"{rate / noop:5.2f}× noop")
    if timing.cpu_seconds is not None:
        # CPU time varies less than wall time with the machine's other load.
        parts.append(f"CPU {timing.cpu_seconds / events * 1e6:5.1f} µs/event")
    print("   ".join(parts))
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events for (d)")
    parser.add_argument("--executions", type=int, default=2_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--single-events",
        type=int,
        default=20_000,
        help="events for (a)-(c), one per message (enough for several commit intervals)",
    )
    parser.add_argument("--rss-events", type=int, default=1_000_000, help="(e); 0 skips it")
    parser.add_argument("--rss-executions", type=int, default=20_000)
    args = parser.parse_args()
    lines = generate(args.events, args.executions)
    batches = batched(lines, 50)
    size = sum(len(x) for x in lines) / len(lines)
    print(
        f"bench/live.py: {len(lines):,} events ((a)-(c): the first {args.single_events:,}, "
        f"1 event/message; (d): all, ≤ 50/message = {len(batches):,} messages, "
        f"{len(lines) / len(batches):.1f} on average), "
        f"{args.executions:,} keys, {args.partitions} partitions, {size:.0f} B/event, "
        f"embedded broker (Tansu); (b)-(d) timed from first commit to caught up"
    )
    env = dict(os.environ)
    with EmbeddedBroker() as bs:
        asyncio.run(create_topics(bs, "bs", args.partitions))
        asyncio.run(create_topics(bs, "bb", args.partitions))
        singles = lines[: args.single_events]
        asyncio.run(produce_lines(bs, "bs.telemetry", singles, args.partitions))
        asyncio.run(produce_lines(bs, "bb.telemetry", batches, args.partitions))
        raw_n, raw_s = asyncio.run(raw_consume(bs, "bs.telemetry"))
        raw = line("(a) raw aiokafka + orjson", raw_n, Timing(raw_s), None, None)
        noop_env = {**env, "NOOP_BROKER": bs, "NOOP_GROUP": "noop", "NOOP_TOPIC": "bs.telemetry"}
        noop_s = timed_group(
            bs,
            "noop",
            "bs.telemetry",
            [sys.executable, str(ROOT / "bench" / "faust_noop.py"), "worker"],
            noop_env,
        )
        noop = line("(b) Faust no-op agent", len(singles), noop_s, raw, None)
        single = line(
            "(c) worker, single-event messages",
            len(singles),
            timed_group(bs, "bs", "bs.telemetry", worker_cmd(bs, "bs", args.partitions), env),
            raw,
            noop,
        )
        batch = line(
            "(d) worker, 50-event messages",
            len(lines),
            timed_group(bs, "bb", "bb.telemetry", worker_cmd(bs, "bb", args.partitions), env),
            raw,
            noop,
        )
        if args.rss_events:
            rss_stage(bs, args.rss_events, args.rss_executions, args.partitions)
    print(
        f"  targets: (d) ≥ 100,000 events/s → {'met' if batch >= 100_000 else 'NOT met'}; "
        f"(c) ≥ 0.6 × (b) → {'met' if single >= 0.6 * noop else 'NOT met'} "
        f"({single / noop:.2f})"
    )


if __name__ == "__main__":
    main()
