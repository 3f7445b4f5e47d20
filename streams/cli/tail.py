"""`agentfold tail TOPIC`: any agentfold topic, one readable line per record."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from streams.cli.common import add_broker_flags, need_broker
from streams.cli.stopping import exit_code, interrupted

if TYPE_CHECKING:
    from streams.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "tail",
        help="print any agentfold topic, one readable line per record",
        description="Follow a topic (like tail -f) from its end, or from the beginning; "
        "colour on a terminal; --json prints the raw values.",
    )
    p.add_argument(
        "topic",
        help="telemetry, runs, stagnation, healing, attribution, deadletter (or a full name)",
    )
    add_broker_flags(p)
    p.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    p.add_argument("--execution", metavar="ID", help="only records about this execution")
    p.add_argument("--json", action="store_true", help="raw JSON values, one per line")
    p.add_argument(
        "--to-end",
        action="store_true",
        help="stop at the end offsets taken at start instead of following",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.views.tail import resolve_topic, run_tail

    broker = need_broker(args)
    topic, logical = resolve_topic(args.topic, args.prefix)
    try:
        run_tail(
            broker, topic, logical, args.from_beginning, args.execution, args.json, args.to_end
        )
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:  # Ctrl-C, SIGTERM
        if not interrupted(exc):
            raise
        print("agentfold tail: stopped", file=sys.stderr)
        return exit_code(exc)
    return 0
