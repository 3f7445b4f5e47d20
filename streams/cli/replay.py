"""`agentfold replay`: rebuild the outputs from the telemetry log."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from schemas.errors import InputError
from streams.cli.common import (
    add_broker_flags,
    add_config_flags,
    fold_config,
    need_broker,
)

if TYPE_CHECKING:
    from streams.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "replay",
        help="rebuild the outputs from the telemetry log (whole, one execution, or as of a time)",
        description="Read <prefix>.telemetry from the beginning of every partition up to the "
        "end offsets taken at start, fold it with the same code and settings as the worker, "
        "and write the outputs (the records of `agentfold fold`) to a file, stdout, or shadow "
        "topics — never to the live output topics. Pass the worker's --config/--set.",
        epilog="examples:\n"
        "  agentfold replay --broker localhost:9092 --out rebuilt.jsonl\n"
        "  agentfold replay --broker localhost:9092 --verify\n"
        "  agentfold replay --broker localhost:9092 --execution exec-42 --until "
        "2026-11-22T10:00:00Z\n"
        "  agentfold replay --broker localhost:9092 --to-prefix shadow-1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_broker_flags(p)
    p.add_argument("--execution", metavar="ID", help="rebuild only this execution")
    p.add_argument(
        "--until",
        metavar="TIME",
        help="rebuild the state as of this event time (RFC 3339, e.g. 2026-11-22T10:00:00Z)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="write records here (- = stdout; the default unless --to-prefix or --verify)",
    )
    p.add_argument(
        "--to-prefix",
        metavar="PREFIX",
        help="also write records to shadow topics PREFIX.<topic> (created; must be new)",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="compare with the live output topics; exit 1 on any difference",
    )
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="processes folding partitions (default: one per CPU for logs over 20,000 "
        "messages, else 1)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress or summary")
    add_config_flags(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from schemas.timefmt import parse_rfc3339_ms
    from streams.replay import ReplayCommand, ReplayRequest, run_replay

    broker = need_broker(args)
    until_ms = None
    if args.until is not None:
        try:
            until_ms = parse_rfc3339_ms(args.until)
        except ValueError:
            raise InputError(
                f"--until {args.until!r} is not an RFC 3339 time (e.g. 2026-11-22T10:00:00Z)"
            ) from None
    request = ReplayRequest(broker, args.prefix, args.execution, until_ms, args.jobs)
    command = ReplayCommand(request, args.out, args.to_prefix, args.verify, args.quiet)
    return run_replay(command, fold_config(args))
