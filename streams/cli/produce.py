"""`agentfold produce`: publish a JSONL telemetry log, keyed by execution."""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import ExitStack
from typing import TYPE_CHECKING

from streams.cli.common import add_broker_flags, need_broker, open_input, telemetry_topic

if TYPE_CHECKING:
    from streams.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "produce",
        help="publish a JSONL telemetry log to <prefix>.telemetry (keyed by execution)",
        description="Publish each line of a log (one event, or a JSON array of one "
        "execution's events) as one message keyed by its subject; a tick without a "
        "partition goes to every partition; unparseable lines go to partition 0 unkeyed "
        "(the worker dead-letters them). The same routing as `agentfold fold`.",
    )
    p.add_argument("input", help="log file, or - for stdin")
    add_broker_flags(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.kafka import produce_lines

    broker = need_broker(args)
    topic, partitions = telemetry_topic(broker, args.prefix)
    with ExitStack() as stack:
        source = open_input(args.input, stack)
        lines = [line for line in source.read().splitlines() if line.strip()]
    sent = asyncio.run(produce_lines(broker, topic, lines, partitions))
    print(f"produced {sent} message(s) to {topic} ({partitions} partitions)", file=sys.stderr)
    return 0
