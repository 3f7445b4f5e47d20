"""Live throughput on the embedded broker, all measured in one run.

Stages (a)–(c) use the first --single-events events, (b') and (d) all --events of them.

  (a) raw    aiokafka consume + orjson.loads of every message — the ceiling
  (b) noop   a Faust agent that does nothing per message, on the single-event messages
             and (b') on (d)'s 50-event ones: what Faust's per-message stream costs —
             the worker reads telemetry itself, past it
  (c) worker `agentfold worker` on single-event messages
  (d) worker `agentfold worker` on SDK-style messages of 50 events
  (d') (d) with its metrics port on, /metrics scraped every second: what metrics cost
  (e) the worker's resident memory over --rss-events events / --rss-executions
      executions (1,000,000 / 20,000; 500 running at a time, runs of 50 events, in
      10-event messages), sampled at each quarter of the way: bounded state keeps it
      flat however long the log
Rates for (b)–(d) run between the first and the last commit seen while the consumer
is busy, so process start-up, group joins and the wait for the commit that reports
"caught up" are not counted; next to each, the process's CPU time per event over the
same span (all its threads), which varies less with the machine's other load. (b)–(d)
run --rounds times (3), alternating, each in a fresh consumer group; printed are the
median rate, the median of the rounds' ratios (the stages of one round are minutes
apart, the machine's speed drifts more over the whole run) and every run's rate.
Targets: (d) ≥ 100,000 events/s per worker process; (c) ≥ 0.6 × (b). Faust's cost per
message dominates (b) and (b') and varies with the machine: docs/performance.md quotes
the no-op at 13,000–19,000 messages/s; the last line prints this run's rate beside it.
bench/peers.py sets the worker beside Quix Streams.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from benchbroker import add_broker_arg, bench_broker
from ceiling import raw_consume

from streams.kafka.broker import free_port
from streams.kafka.topicio import end_offsets, group_positions, produce_lines
from streams.kafka.topics import create_topics
from streams.testing import batched, generate, goal_g_line, iter_batched, iter_generate
from streams.worker.run import worker_argv

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
    env: dict[str, str],
    on_poll: Callable[[float, int], None] | None = None,
    copies: int = 1,
) -> Timing:
    """Run a consumer process (`copies` of it, in one group) and time it by its group's
    committed offsets, extrapolated to the whole log; CPU time is that of all copies.
    `on_poll(fraction committed, pid of the first)` is called at every poll.

    The span runs from the first to the last commit seen while the consumer was still
    busy (neither untouched nor caught up). Commits land every commit interval (0.5 s),
    so the commit that reports "caught up" comes up to an interval after the work
    ended; timing to it would add that idle wait to a run of a few seconds. When fewer
    than two commits fall inside the work, or they cover less than half of the log (a
    short run: polls 0.1 s apart then time a sliver of it, and the extrapolation once
    gave a worker 5× its real rate), the span is the process's last busy stretch
    instead: from the last poll before any commit at which it was idle (start-up done,
    waiting to join the group; idle: under a quarter of a core since the poll before)
    to the last poll at which it was busy — a poll interval (0.1 s) either way. (The
    last poll before any commit is no start: a 60,000-event run can be folded before
    its first commit lands, and that span once timed a tenth of a second of it.)"""
    total = sum(asyncio.run(end_offsets(bootstrap, topic)).values())
    procs = [
        subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(copies)
    ]
    try:
        busy: list[tuple[float, int, float]] = []  # (time, lag, cpu) at each new commit
        # the last poll that saw no commit and a process using under a quarter of a core
        last_idle = last_busy = previous = (time.monotonic(), 0.0)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            try:
                lag = sum(asyncio.run(group_positions(bootstrap, group, topic)).values())
            except Exception:
                lag = total
            now, cpu = time.monotonic(), sum(cpu_seconds(p.pid) for p in procs)
            if on_poll is not None:
                on_poll(1 - lag / max(total, 1), procs[0].pid)
            idle = cpu - previous[1] < 0.25 * (now - previous[0])
            previous = (now, cpu)
            if not idle:
                last_busy = (now, cpu)
            if lag >= total:
                if idle:
                    last_idle = (now, cpu)
            elif lag > 0 and (not busy or lag != busy[-1][1]):
                busy.append((now, lag, cpu))
            if lag == 0:
                # (Lag only shrinks while a group works; a rewind would fall back.)
                if len(busy) >= 2 and busy[0][1] - busy[-1][1] >= total / 2:
                    (t0, lag0, cpu0), (t1, lag1, cpu1) = busy[0], busy[-1]
                    scale = total / (lag0 - lag1)
                    return Timing((t1 - t0) * scale, (cpu1 - cpu0) * scale)
                (start, cpu_start), (end, cpu_end) = last_idle, last_busy
                if end <= start:
                    end, cpu_end = now, cpu
                return Timing(end - start, cpu_end - cpu_start)
            time.sleep(0.1)
        raise TimeoutError(f"{cmd[2:4]} did not catch up")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for row in status:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    return 0.0


def rss_stage(bootstrap: str, ns: str, n_events: int, n_executions: int, partitions: int) -> None:
    """(e): produce a long log, run the worker over it (goal stage included), sample its
    RSS per quarter."""
    asyncio.run(create_topics(bootstrap, ns, partitions))
    # Executions take turns (500 at a time, each a 50-event run): the log grows, the
    # working set does not. 10-event messages interleave the executions' runs. Their
    # goal is defined: every decision becomes goal facts, folded by the goal stage.
    runs = iter_batched(iter_generate(n_events, n_executions, seed=11, concurrent=500), 10)
    log = itertools.chain([goal_g_line()], runs)
    asyncio.run(produce_lines(bootstrap, f"{ns}.telemetry", log, partitions))
    marks: dict[float, float] = {}

    def sample(done: float, pid: int) -> None:
        for quarter in (0.25, 0.5, 0.75, 1.0):
            if done >= quarter and quarter not in marks:
                marks[quarter] = rss_mib(pid)

    cmd = worker_cmd(bootstrap, ns, partitions)
    seconds = timed_group(bootstrap, ns, f"{ns}.telemetry", cmd, dict(os.environ), sample).seconds
    at = "  ".join(f"{int(q * 100)}% {mb:.0f} MiB" for q, mb in sorted(marks.items()))
    growth = marks[1.0] / marks[0.25] - 1 if marks.get(0.25) else float("nan")
    print(
        f"  (e) worker RSS over {n_events:,} events / {n_executions:,} executions: {at}; "
        f"growth from the first quarter to the end {growth:+.0%} "
        f"({n_events / seconds:,.0f} events/s)"
    )


def noop_timing(bootstrap: str, ns: str, env: dict[str, str], group: str) -> Timing:
    noop_env = {
        **env,
        "NOOP_BROKER": bootstrap,
        "NOOP_GROUP": group,
        "NOOP_TOPIC": f"{ns}.telemetry",
    }
    cmd = [sys.executable, str(ROOT / "bench" / "faust_noop.py"), "worker"]
    return timed_group(bootstrap, group, f"{ns}.telemetry", cmd, noop_env)


def worker_cmd(bootstrap: str, ns: str, partitions: int) -> list[str]:
    return worker_argv(bootstrap, ns, partitions, log_level="warning")


def worker_timing(
    bootstrap: str, ns: str, partitions: int, env: dict[str, str], group: str, scraped: bool = False
) -> Timing:
    """`scraped`: with its web port on and /metrics fetched every second meanwhile (a
    harsher scrape than Prometheus's usual 10-60 s) — what the metrics cost."""
    # A later --app-id wins: a fresh group (and state changelog) on the same topics.
    cmd = [*worker_cmd(bootstrap, ns, partitions), "--app-id", group]
    if not scraped:
        return timed_group(bootstrap, group, f"{ns}.telemetry", cmd, env)
    port = free_port()
    stop = threading.Event()

    def scrape() -> None:
        while not stop.wait(1.0):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()

    scraper = threading.Thread(target=scrape, daemon=True)
    scraper.start()
    try:
        return timed_group(
            bootstrap, group, f"{ns}.telemetry", [*cmd, "--web-port", str(port)], env
        )
    finally:
        stop.set()
        scraper.join()


class Stage:
    """One stage's runs: events/s and CPU µs per event of each."""

    def __init__(self, label: str, events: int) -> None:
        self.label = label
        self.events = events
        self.rates: list[float] = []
        self.cpu_us: list[float] = []

    def add(self, timing: Timing) -> None:
        self.rates.append(self.events / timing.seconds)
        if timing.cpu_seconds is not None:
            self.cpu_us.append(timing.cpu_seconds / self.events * 1e6)

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)


def ratio(stage: Stage, base: Stage) -> float:
    """The median of the rounds' ratios: each round's stages ran minutes apart at most,
    the rounds themselves may not share the machine's speed."""
    return statistics.median(a / b for a, b in zip(stage.rates, base.rates, strict=True))


def line(stage: Stage, ceiling: float | None, noop: Stage | None) -> None:
    parts = [f"  {stage.label:<34} {stage.rate:>10,.0f} events/s"]
    if ceiling:
        parts.append(f"{stage.rate / ceiling:5.2f}× raw")
    if noop:
        parts.append(f"{ratio(stage, noop):5.2f}× noop")
    if stage.cpu_us:
        # CPU time varies less than wall time with the machine's other load.
        parts.append(f"CPU {statistics.median(stage.cpu_us):5.1f} µs/event")
    if len(stage.rates) > 1:
        parts.append("runs " + ", ".join(f"{r:,.0f}" for r in stage.rates))
    print("   ".join(parts))


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
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="runs of each of (b)-(d), alternating; medians are reported",
    )
    add_broker_arg(parser)
    args = parser.parse_args()
    lines = generate(args.events, args.executions)
    batches = batched(lines, 50)
    size = sum(len(x) for x in lines) / len(lines)
    env = dict(os.environ)
    with bench_broker(args.broker) as (bs, prefix, where):
        print(
            f"bench/live.py: {len(lines):,} events ((a)-(c): the first {args.single_events:,}, "
            f"1 event/message; (b'), (d): all, ≤ 50/message = {len(batches):,} messages, "
            f"{len(lines) / len(batches):.1f} on average), "
            f"{args.executions:,} keys, {args.partitions} partitions, {size:.0f} B/event, "
            f"{where}; (b)-(d) timed between commits while busy"
        )
        ns_single, ns_batch = f"{prefix}bs", f"{prefix}bb"
        asyncio.run(create_topics(bs, ns_single, args.partitions))
        asyncio.run(create_topics(bs, ns_batch, args.partitions))
        singles = lines[: args.single_events]
        asyncio.run(produce_lines(bs, f"{ns_single}.telemetry", singles, args.partitions))
        asyncio.run(produce_lines(bs, f"{ns_batch}.telemetry", batches, args.partitions))
        raw_n, raw_s = asyncio.run(raw_consume(bs, f"{ns_single}.telemetry"))
        raw = raw_n / raw_s
        print(f"  {'(a) raw aiokafka + orjson':<34} {raw:>10,.0f} events/s")
        noop = Stage("(b) Faust no-op agent", len(singles))
        noop_batched = Stage("(b') Faust no-op, 50-event messages", len(lines))
        single = Stage("(c) worker, single-event messages", len(singles))
        batch = Stage("(d) worker, 50-event messages", len(lines))
        scraped = Stage("(d') (d), /metrics scraped every 1 s", len(lines))
        # Rounds alternate the stages, so that a slow spell of the machine hits them
        # alike; each run reads its topic from the start in a group of its own.
        for r in range(args.rounds):
            noop.add(noop_timing(bs, ns_single, env, f"{prefix}noop-bs-{r}"))
            noop_batched.add(noop_timing(bs, ns_batch, env, f"{prefix}noop-bb-{r}"))
            single.add(worker_timing(bs, ns_single, args.partitions, env, f"{ns_single}-{r}"))
            # (d) and (d') swap places every round: each run leaves the in-memory broker
            # holding more, so whichever runs second is slowed a little.
            for with_scrape in (False, True) if r % 2 == 0 else (True, False):
                stage = scraped if with_scrape else batch
                group = f"{ns_batch}-{'s' if with_scrape else ''}{r}"
                stage.add(worker_timing(bs, ns_batch, args.partitions, env, group, with_scrape))
        line(noop, raw, None)
        line(noop_batched, raw, None)
        line(single, raw, noop)
        line(batch, raw, noop_batched)
        line(scraped, raw, noop_batched)
        print(f"  metrics cost: (d') / (d) = {ratio(scraped, batch):.2f} (median of the rounds)")
        if args.rss_events:
            rss_stage(bs, f"{prefix}br", args.rss_events, args.rss_executions, args.partitions)
    print(
        f"  targets: (d) ≥ 100,000 events/s → {'met' if batch.rate >= 100_000 else 'NOT met'}; "
        f"(c) ≥ 0.6 × (b) → {'met' if ratio(single, noop) >= 0.6 else 'NOT met'} "
        f"({ratio(single, noop):.2f}); the no-op ran {noop.rate:,.0f} messages/s "
        f"(13,000–19,000 in docs/performance.md)"
    )


if __name__ == "__main__":
    main()
