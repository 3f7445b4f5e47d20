"""`agentfold status`: how far the worker group has folded the telemetry topic."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import TYPE_CHECKING

from streams.cli.common import add_broker_flags, need_broker
from streams.config import WorkerSettings

if TYPE_CHECKING:
    from streams.cli.common import Subparsers

DEFAULT_GROUP = str(WorkerSettings.model_fields["app_id"].default)


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "status",
        help="per partition: what the worker group has committed, the end, the lag",
        description="Per partition of <prefix>.telemetry: the worker group's committed "
        "offset, the partition's end, the lag and the stream time as of the worker's last "
        "flush, and how many goal facts of the partition's goalfacts partition its goal "
        "stage had not applied at its last flush. Exit 0 when the group has caught up "
        "(goal stage included), 1 when it has not; --wait blocks until it has folded "
        "everything the log held when asked (or --timeout passes).",
    )
    add_broker_flags(p)
    p.add_argument(
        "--group",
        default=os.environ.get("AGENTFOLD_APP_ID", DEFAULT_GROUP),
        help=f"the worker's consumer group, its --app-id (default: $AGENTFOLD_APP_ID or "
        f"{DEFAULT_GROUP})",
    )
    p.add_argument("--wait", action="store_true", help="wait until the group has caught up")
    p.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="with --wait (default 120)"
    )
    p.set_defaults(run=run)


# A flush writes at most flush_max_dirty execution records before its commit record.
COMMIT_SEARCH = 4096


async def flushed_marks(
    broker: str, changelog: str, partitions: list[int]
) -> tuple[dict[int, int], dict[int, int]]:
    """As of the worker's last flushes, each partition's stream time (its newest commit
    record, b"m:<p>") and its goal stage's goalfacts position (b"n:<p>"), searched among
    the changelog partition's last COMMIT_SEARCH records (absent: no flush yet, or
    another app's changelog)."""
    import orjson

    from streams.folding.changelog import meta_key, position_key
    from streams.kafka import clients, end_offsets
    from streams.kafka.topicio import fetch_range

    ends = await end_offsets(broker, changelog)
    clocks: dict[int, int] = {}
    goal_positions: dict[int, int] = {}
    if not ends:
        return clocks, goal_positions
    reader = clients.consumer(broker)
    await clients.start(reader, broker)
    try:
        for p in partitions:
            end = ends.get(p, 0)
            records = await fetch_range(reader, changelog, p, max(0, end - COMMIT_SEARCH), end)
            newest = {r.key: r.value for r in records if r.key is not None and r.value}
            commit, goals = newest.get(meta_key(p)), newest.get(position_key(p))
            if commit is not None:
                stream_ms = orjson.loads(commit).get("stream_ms")
                if isinstance(stream_ms, int) and stream_ms > 0:
                    clocks[p] = stream_ms
            if goals is not None:
                goal_positions[p] = int(orjson.loads(goals)["next_offset"])
    finally:
        await clients.close(reader)
    return clocks, goal_positions


def run(args: argparse.Namespace) -> int:
    from schemas.errors import InputError
    from schemas.timefmt import format_ms
    from streams.kafka import committed_offsets, end_offsets, topic_name

    broker = need_broker(args)
    topic = topic_name(args.prefix, "telemetry")

    facts_topic = topic_name(args.prefix, "goalfacts")
    changelog = f"{args.group}-state-changelog"

    async def lags() -> tuple[dict[int, tuple[int, int]], dict[int, int]]:
        ends = await end_offsets(broker, topic)
        if not ends:
            raise InputError(f"topic {topic} not found on {broker} (check --prefix)")
        done = await committed_offsets(broker, args.group, topic, sorted(ends))
        return {p: (done[p], end) for p, end in ends.items()}, await end_offsets(
            broker, facts_topic
        )

    def goal_lags(facts_ends: dict[int, int], positions: dict[int, int]) -> dict[int, int]:
        # a partition without goal facts has nothing to apply; one whose position is
        # not found (no flush among the last records) is not known
        return {
            p: max(0, end - positions[p]) if end else 0
            for p, end in facts_ends.items()
            if p in positions or not end
        }

    # --wait: caught up with the log as it was when asked. (An idle worker keeps
    # appending clock ticks, so the end itself may never hold still long enough.)
    deadline = time.monotonic() + args.timeout
    rows, facts_ends = asyncio.run(lags())
    targets = {p: end for p, (_, end) in rows.items()}
    while True:
        clocks, positions = asyncio.run(flushed_marks(broker, changelog, sorted(rows)))
        behind = sum(max(0, targets[p] - done) for p, (done, _) in rows.items())
        goal_lag = goal_lags(facts_ends, positions)
        goals_behind = sum(goal_lag.values())
        if behind + goals_behind == 0 or not args.wait or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
        rows, _ = asyncio.run(lags())
    print(
        f"{'PARTITION':>9} {'COMMITTED':>12} {'END':>12} {'LAG':>10}  {'STREAM TIME':<24}  "
        "GOAL FACTS LAG"
    )
    for p, (done, end) in sorted(rows.items()):
        clock = clocks.get(p)
        shown = format_ms(clock) if clock is not None else "—"
        g = goal_lag.get(p)
        print(
            f"{p:>9} {done:>12,} {end:>12,} {max(0, end - done):>10,}  {shown:<24}  "
            f"{'—' if g is None else f'{g:,}'}"
        )
    verdict = "caught up" if behind == 0 else f"{behind:,} message(s) behind"
    if goals_behind:
        verdict += f"; the goal stage {goals_behind:,} goal fact(s) behind"
    behind += goals_behind
    if args.wait and behind:
        verdict += f" after waiting {args.timeout:g} s"
    print(f"group {args.group} on {topic}: {verdict}", file=sys.stderr)
    return 0 if behind == 0 else 1
