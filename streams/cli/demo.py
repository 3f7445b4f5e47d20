"""`agentfold demo`: the whole loop, live, in about a minute (what `make demo` runs)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from schemas.errors import InputError
from streams.cli.common import BROKER_ENV, add_partitions_flag, check_broker, positive

if TYPE_CHECKING:
    from streams.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole loop, live, in about a minute (what `make demo` runs)",
        description="Start the embedded broker (or use --broker), create the topics, start "
        "the fold worker and a healing executor, and drive a simulated fleet of six agents "
        "through the SDK on compressed time. Prints runs ending, windows closing, healing "
        "planned or suppressed, attempts coming back and chains being written; then a "
        "summary, and a check that replaying the telemetry offline gives exactly what was "
        "emitted live. Exit 0 when the loop finished and the check passed.",
    )
    p.add_argument(
        "--broker",
        default=os.environ.get(BROKER_ENV),
        metavar="HOST:PORT",
        help=f"use this Kafka instead of the embedded broker (default: ${BROKER_ENV})",
    )
    p.add_argument(
        "--prefix",
        help="topic prefix (default agentfold on the embedded broker, a fresh "
        "agentfold-demo-<time> on yours)",
    )
    add_partitions_flag(p, "partitions per topic", default=4)
    p.add_argument(
        "--window",
        type=int,
        default=10,
        metavar="S",
        help="window length in seconds; every other timing scales with it (default 10)",
    )
    p.add_argument("--no-verify", action="store_true", help="skip the replay check")
    p.add_argument("--no-colour", action="store_true", help="no colour even on a terminal")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.demo import DemoSettings, run_demo

    if args.broker:
        check_broker(args.broker)
    if args.window < 4:
        raise InputError(f"--window must be at least 4 seconds, got {args.window}")
    settings = DemoSettings(
        broker=args.broker,
        prefix=args.prefix,
        partitions=positive(args.partitions, "--partitions"),
        window_s=args.window,
        verify=not args.no_verify,
    )
    colour = sys.stdout.isatty() and not args.no_colour and "NO_COLOR" not in os.environ
    return run_demo(settings, sys.stdout, colour)
