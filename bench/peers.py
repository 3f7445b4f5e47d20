"""agentfold's worker beside its peers, on the same telemetry and broker, in one run.

Stages, each reading the whole topic in a fresh consumer group:
  raw       aiokafka consume + orjson.loads of every message — the ceiling
  quix      Quix Streams: per-key state + a tumbling event-time 90-min window (30 s
            grace), reduce, `.final()` (bench/quix_pipeline.py) — on single-event messages
  noop      a Faust agent that does nothing per message, on single-event messages
  unbatched `agentfold worker` on single-event messages (any producer that is not the SDK)
  batched   `agentfold worker` on SDK-style messages (one execution's events, ≤ 50 each)
  goals     the same with the runs' goal defined: every decision scored, a tally per
            message written to goalfacts and folded by the worker's goal stage into goals
            (a fresh namespace per round: the stage reads every goal fact of it)
Rounds alternate the stages (a slow spell of the machine hits them alike); printed are
the median rate, the medians of the rounds' ratios to raw and to Quix (stages of one
round run minutes apart at most; whole runs drift ±2× on these machines) and the CPU
time per event (all threads of the process), which varies less with other load.
Targets: unbatched ≥ 1.0× Quix; batched ≥ 3.0× Quix and ≥ 0.35× raw; goals ≥ 0.90×
batched.

Quix Streams is optional (`pip install '.[bench]'`); without it, its stage is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial

from benchbroker import add_broker_arg, bench_broker
from ceiling import raw_consume
from live import ROOT, Stage, Timing, noop_timing, timed_group, worker_timing

from streams.kafka.topicio import produce_lines
from streams.kafka.topics import create_topics
from streams.testing import batched, generate, goal_g_line

TARGETS = "unbatched ≥ 1.0× Quix; batched ≥ 3.0× Quix and ≥ 0.35× raw"


def quix_installed() -> bool:
    return importlib.util.find_spec("quixstreams") is not None


def quix_timing(bootstrap: str, topic: str, partitions: int, group: str) -> Timing:
    with tempfile.TemporaryDirectory(prefix="agentfold-quix-") as state:
        env = {
            **os.environ,
            "QUIX_BROKER": bootstrap,
            "QUIX_GROUP": group,
            "QUIX_TOPIC": topic,
            "QUIX_PARTITIONS": str(partitions),
            "QUIX_STATE": state,
        }
        cmd = [sys.executable, str(ROOT / "bench" / "quix_pipeline.py")]
        return timed_group(bootstrap, group, topic, cmd, env)


def raw_timing(bootstrap: str, topic: str) -> Timing:
    cpu = time.process_time()
    _, seconds = asyncio.run(raw_consume(bootstrap, topic))
    return Timing(seconds, time.process_time() - cpu)


def ratio_to(stage: Stage, base: Stage | None) -> float | None:
    if base is None or not base.rates:
        return None
    return statistics.median(a / b for a, b in zip(stage.rates, base.rates, strict=True))


def row(stage: Stage, raw: Stage, quix: Stage | None) -> str:
    to_raw = ratio_to(stage, raw)
    to_quix = ratio_to(stage, quix)
    cpu = f"{statistics.median(stage.cpu_us):6.1f}" if stage.cpu_us else "     -"
    return (
        f"  {stage.label:<44} {stage.rate:>9,.0f}   {to_raw:5.2f}   "
        + (f"{to_quix:5.2f}" if to_quix is not None else "    -")
        + f"   {cpu}   "
        + ", ".join(f"{r:,.0f}" for r in stage.rates)
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--executions", type=int, default=2_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="alternating; medians reported")
    add_broker_arg(parser)
    args = parser.parse_args()
    lines = generate(args.events, args.executions)
    batches = batched(lines, 50)
    size = sum(len(x) for x in lines) / len(lines)
    has_quix = quix_installed()
    with bench_broker(args.broker) as (bs, prefix, where):
        print(
            f"bench/peers.py: {len(lines):,} events of {args.executions:,} executions, "
            f"{args.partitions} partitions, {size:.0f} B/event, {where}; batched: "
            f"{len(batches):,} messages ({len(lines) / len(batches):.1f} events each)"
        )
        if not has_quix:
            print("  Quix Streams is not installed (pip install '.[bench]'): its stage is skipped")
        ns_single, ns_batch = f"{prefix}ps", f"{prefix}pb"
        asyncio.run(create_topics(bs, ns_single, args.partitions))
        asyncio.run(create_topics(bs, ns_batch, args.partitions))
        single_topic, batch_topic = f"{ns_single}.telemetry", f"{ns_batch}.telemetry"
        asyncio.run(produce_lines(bs, single_topic, lines, args.partitions))
        asyncio.run(produce_lines(bs, batch_topic, batches, args.partitions))
        n = len(lines)
        raw = Stage("raw aiokafka + orjson (ceiling)", n)
        quix = Stage("Quix Streams: state + 90-min window, final", n) if has_quix else None
        noop = Stage("Faust no-op agent, 1 event/message", n)
        unbatched = Stage("agentfold worker, 1 event/message", n)
        batch = Stage("agentfold worker, SDK batches (≤ 50 events)", n)
        goals = Stage("  the same, the runs' goal defined", n)
        env = dict(os.environ)
        for r in range(args.rounds):
            ns_goals = f"{prefix}pg{r}"
            asyncio.run(create_topics(bs, ns_goals, args.partitions))
            goal_log = [goal_g_line(), *batches]
            asyncio.run(produce_lines(bs, f"{ns_goals}.telemetry", goal_log, args.partitions))
            runs: list[tuple[Stage, Callable[[], Timing]]] = [
                (raw, partial(raw_timing, bs, single_topic)),
                (noop, partial(noop_timing, bs, ns_single, env, f"{prefix}pnoop-{r}")),
                (
                    unbatched,
                    partial(worker_timing, bs, ns_single, args.partitions, env, f"{ns_single}-{r}"),
                ),
                (
                    batch,
                    partial(worker_timing, bs, ns_batch, args.partitions, env, f"{ns_batch}-{r}"),
                ),
                (goals, partial(worker_timing, bs, ns_goals, args.partitions, env, ns_goals)),
            ]
            if quix is not None:
                group = f"{prefix}pquix-{r}"
                runs.insert(
                    1, (quix, partial(quix_timing, bs, single_topic, args.partitions, group))
                )
            for stage, timing in runs if r % 2 == 0 else reversed(runs):
                stage.add(timing())
        print(f"  {'stage':<44} {'events/s':>9}   × raw   × Quix   CPU µs/event   runs")
        for shown in (raw, quix, noop, unbatched, batch, goals):
            if shown is not None:
                print(row(shown, raw, quix))
        g_batch = ratio_to(goals, batch) or 0.0
        base_cpu = statistics.median(batch.cpu_us) if batch.cpu_us else 0.0
        cpu = (  # a tiny run can take no measurable CPU time
            f"×{statistics.median(goals.cpu_us) / base_cpu:.2f}"
            if goals.cpu_us and base_cpu > 0
            else "×?"
        )
        print(
            f"  goal stage cost: goals / batched = {g_batch:.2f} (target ≥ 0.90); CPU per "
            f"event {cpu} (every run under a goal: the worst case)"
        )
    if quix is None:
        print(f"  targets ({TARGETS}): not judged without Quix Streams")
        return
    u_quix = ratio_to(unbatched, quix) or 0.0
    b_quix = ratio_to(batch, quix) or 0.0
    b_raw = ratio_to(batch, raw) or 0.0
    print(
        f"  targets: unbatched ≥ 1.0× Quix → {verdict(u_quix >= 1.0)} ({u_quix:.2f}); "
        f"batched ≥ 3.0× Quix → {verdict(b_quix >= 3.0)} ({b_quix:.2f}), "
        f"≥ 0.35× raw → {verdict(b_raw >= 0.35)} ({b_raw:.2f})"
    )


if __name__ == "__main__":
    main()
