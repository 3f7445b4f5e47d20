"""`agentfold fold`: fold a telemetry log file offline, as N live partitions would."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING, BinaryIO

from streams.cli.common import (
    add_config_flags,
    add_partitions_flag,
    fold_config,
    open_input,
    positive,
)

if TYPE_CHECKING:
    from streams.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "fold",
        help="fold a telemetry log file offline (as N live partitions would)",
        description="Fold a JSONL telemetry log (one event, or a JSON array of one "
        "execution's events, per line) and write one output record per line: "
        '{"topic", "partition", "key", "value"}. Bad lines become dead-letter records.',
    )
    p.add_argument("input", nargs="?", default="-", help="log file, or - for stdin (default)")
    p.add_argument("--out", default="-", metavar="OUT", help="output file, or - (default)")
    add_partitions_flag(p, "route by subject to N partitions with Kafka's partitioner")
    p.add_argument("--strict", action="store_true", help="exit 1 if any input was dead-lettered")
    p.add_argument(
        "--report",
        action="store_true",
        help="print a readable per-execution report instead of records (unless --out is a file)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress or summary")
    add_config_flags(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.folding import OfflineFold, render
    from streams.views import Progress, Report, print_report

    partitions = positive(args.partitions, "--partitions")
    cfg = fold_config(args)
    with ExitStack() as stack:
        source = open_input(args.input, stack)
        to_stdout = args.out == "-"
        sink: BinaryIO = (
            sys.stdout.buffer if to_stdout else stack.enter_context(open(args.out, "wb"))
        )
        write_records = not (args.report and to_stdout)
        report = Report() if args.report else None
        folder = OfflineFold(cfg, partitions, source_name=args.input)
        progress = Progress("fold", 0, unit="lines", enabled=None if not args.quiet else False)
        started = time.monotonic()
        for emitted in folder.feed_lines(progress.lines(iter(source))):
            if write_records:
                sink.write(render(emitted) + b"\n")
            if report is not None:
                report.add(emitted.record)
        progress.close()
        sink.flush()
        elapsed = time.monotonic() - started
    if report is not None:
        print_report(report, sys.stdout)
        sys.stdout.flush()
    st = folder.stats
    if not args.quiet:
        rate = st.events / elapsed if elapsed > 0 else 0.0
        topics = ", ".join(f"{t} {n}" for t, n in sorted(st.by_topic.items())) or "none"
        print(
            f"agentfold fold: {st.lines} lines, {st.events} events, {st.rejected} rejected "
            f"→ {st.outputs} records ({topics}) in {elapsed:.2f}s ({rate:,.0f} events/s), "
            f"{partitions} partitions",
            file=sys.stderr,
        )
    return 1 if args.strict and st.rejected else 0
