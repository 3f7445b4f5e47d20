"""The `agentfold` command line. Each subcommand parses flags here and calls one module."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

from schemas.errors import AgentfoldError, InputError

EPILOG = """\
environment:
  AGENTFOLD_<SETTING>   any fold setting, e.g. AGENTFOLD_WINDOW_S=600 (see `agentfold config`)
  AGENTFOLD_PARTITIONS  default partition count (8)
"""


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, metavar="FILE", help="TOML or JSON file of fold settings")
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting (repeatable), e.g. --set window_s=600",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentfold",
        description="Event-sourced processing of AI-agent telemetry: runs, stagnation, "
        "healing actions and attribution chains, identical live and on replay.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fold = sub.add_parser(
        "fold",
        help="fold a telemetry log file offline (as N live partitions would)",
        description="Fold a JSONL telemetry log (one event, or a JSON array of one "
        "execution's events, per line) and write one output record per line: "
        '{"topic", "partition", "key", "value"}. Bad lines become dead-letter records.',
    )
    fold.add_argument("input", nargs="?", default="-", help="log file, or - for stdin (default)")
    fold.add_argument("--out", default="-", metavar="OUT", help="output file, or - (default)")
    fold.add_argument(
        "--partitions",
        type=int,
        default=int(os.environ.get("AGENTFOLD_PARTITIONS", "8")),
        metavar="N",
        help="route by subject to N partitions with Kafka's partitioner (default 8)",
    )
    fold.add_argument("--strict", action="store_true", help="exit 1 if any input was dead-lettered")
    fold.add_argument(
        "--report",
        action="store_true",
        help="print a readable per-execution report instead of records (unless --out is a file)",
    )
    fold.add_argument("--quiet", "-q", action="store_true", help="no progress or summary")
    _add_config_flags(fold)

    schema = sub.add_parser("schema", help="write one JSON Schema per event and output type")
    schema.add_argument("--out", required=True, type=Path, metavar="DIR")

    config = sub.add_parser("config", help="print the effective fold configuration as JSON")
    _add_config_flags(config)

    broker = sub.add_parser(
        "broker",
        help="run the embedded Kafka-compatible broker (Tansu) in the foreground",
        description="Start the embedded broker (in-memory: data is gone when it stops) and "
        "print its address; Ctrl-C stops it.",
    )
    broker.add_argument("--port", type=int, default=None, help="port (default: a free one)")

    worker = sub.add_parser(
        "worker",
        help="run the live fold worker (embedded broker unless --broker is given)",
        description="Consume <prefix>.telemetry, fold each partition, keep state in "
        "changelog-backed tables and write runs, stagnation, healing, attribution and dead "
        "letters. Without --broker, starts the embedded broker first. Settings also come "
        "from the [worker] section of --config and AGENTFOLD_* variables.",
    )
    worker.add_argument("--broker", metavar="HOST:PORT", help="Kafka bootstrap servers")
    worker.add_argument("--partitions", type=int, metavar="N", help="topic partitions (8)")
    worker.add_argument("--app-id", help="consumer group and table prefix (agentfold)")
    worker.add_argument("--prefix", dest="topic_prefix", help="topic prefix (agentfold)")
    worker.add_argument(
        "--tick-interval",
        dest="tick_interval_s",
        type=float,
        metavar="S",
        help="seconds of idleness before a partition gets a clock tick (1; 0 = off)",
    )
    worker.add_argument(
        "--session-timeout",
        dest="session_timeout_s",
        type=float,
        metavar="S",
        help="consumer session timeout (10; 2 on the embedded broker)",
    )
    worker.add_argument(
        "--heartbeat-interval",
        dest="heartbeat_interval_s",
        type=float,
        metavar="S",
        help="consumer heartbeat interval (1; 0.3 embedded)",
    )
    worker.add_argument(
        "--commit-interval",
        dest="commit_interval_s",
        type=float,
        metavar="S",
        help="offset commit interval (1; 0.5 embedded)",
    )
    worker.add_argument(
        "--guarantee",
        dest="processing_guarantee",
        choices=["at_least_once", "exactly_once"],
        help="exactly_once needs transactions (real Kafka only)",
    )
    worker.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    _add_config_flags(worker)

    topics = sub.add_parser("topics", help="create or list the agentfold topics")
    topics.add_argument("action", choices=["create", "list"])
    topics.add_argument(
        "--broker",
        default=os.environ.get("AGENTFOLD_BROKER"),
        metavar="HOST:PORT",
        help="Kafka bootstrap servers (default: $AGENTFOLD_BROKER)",
    )
    topics.add_argument(
        "--partitions",
        type=int,
        default=int(os.environ.get("AGENTFOLD_PARTITIONS", "8")),
        metavar="N",
        help="partitions per topic when creating (default 8)",
    )
    topics.add_argument(
        "--prefix",
        default=os.environ.get("AGENTFOLD_TOPIC_PREFIX", "agentfold"),
        help="topic name prefix (default agentfold)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "fold":
            return cmd_fold(args)
        if args.command == "schema":
            return cmd_schema(args)
        if args.command == "config":
            return cmd_config(args)
        if args.command == "broker":
            return cmd_broker(args)
        if args.command == "topics":
            return cmd_topics(args)
        if args.command == "worker":
            return cmd_worker(args)
    except AgentfoldError as exc:
        print(f"agentfold: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("agentfold: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


def _fold_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from streams.settings import load_fold_config, parse_assignments

    return load_fold_config(args.config, os.environ, parse_assignments(args.assignments))


def _open_input(name: str, stack: ExitStack) -> BinaryIO:
    if name == "-":
        return sys.stdin.buffer
    try:
        return stack.enter_context(open(name, "rb"))
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from None


def _progress(lines: Iterator[bytes], show: bool) -> Iterator[bytes]:
    """Pass lines through; on a terminal, redraw a progress line twice a second."""
    if not show:
        yield from lines
        return
    start = last = time.monotonic()
    n = 0
    for n, line in enumerate(lines, start=1):
        yield line
        if n % 4096 == 0:
            now = time.monotonic()
            if now - last >= 0.5:
                last = now
                rate = n / (now - start)
                print(f"\r  folded {n:,} lines ({rate:,.0f} lines/s)", end="", file=sys.stderr)
    if n >= 4096:
        print("\r" + " " * 60 + "\r", end="", file=sys.stderr)


def cmd_fold(args: argparse.Namespace) -> int:
    from streams.offline import OfflineFold, render
    from streams.report import Report, print_report

    if args.partitions < 1:
        raise InputError(f"--partitions must be at least 1, got {args.partitions}")
    cfg = _fold_config(args)
    with ExitStack() as stack:
        source = _open_input(args.input, stack)
        to_stdout = args.out == "-"
        sink: BinaryIO = (
            sys.stdout.buffer if to_stdout else stack.enter_context(open(args.out, "wb"))
        )
        write_records = not (args.report and to_stdout)
        report = Report() if args.report else None
        folder = OfflineFold(cfg, args.partitions, source_name=args.input)
        started = time.monotonic()
        lines = _progress(iter(source), show=not args.quiet and sys.stderr.isatty())
        for emitted in folder.feed_lines(lines):
            if write_records:
                sink.write(render(emitted) + b"\n")
            if report is not None:
                report.add(emitted.record)
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
            f"{args.partitions} partitions",
            file=sys.stderr,
        )
    return 1 if args.strict and st.rejected else 0


def cmd_schema(args: argparse.Namespace) -> int:
    from schemas.codec import canonical_json
    from schemas.jsonschema import json_schemas

    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
        docs = json_schemas()
        for name, doc in docs.items():
            (out / name).write_bytes(canonical_json(doc) + b"\n")
    except OSError as exc:
        raise InputError(f"cannot write schemas to {out}: {exc.strerror}") from None
    print(f"wrote {len(docs)} JSON Schemas to {out}/", file=sys.stderr)
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    import orjson

    cfg = _fold_config(args)
    print(orjson.dumps(cfg.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode())
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    import signal

    from streams.broker import EmbeddedBroker

    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    with EmbeddedBroker(port=args.port) as bootstrap:
        print(bootstrap, flush=True)
        print(f"embedded broker listening on {bootstrap} (Ctrl-C to stop)", file=sys.stderr)
        try:
            while not stop:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.settings import load_worker_settings
    from streams.worker import run_worker

    flags = {
        name: getattr(args, name)
        for name in (
            "broker",
            "partitions",
            "app_id",
            "topic_prefix",
            "tick_interval_s",
            "session_timeout_s",
            "heartbeat_interval_s",
            "commit_interval_s",
            "processing_guarantee",
            "log_level",
        )
    }
    ws = load_worker_settings(args.config, os.environ, flags)
    return run_worker(ws, _fold_config(args))


def cmd_topics(args: argparse.Namespace) -> int:
    import asyncio

    from streams.topics import create_topics, list_topics

    if not args.broker:
        raise InputError("no broker: pass --broker HOST:PORT or set AGENTFOLD_BROKER")
    if args.action == "create":
        if args.partitions < 1:
            raise InputError(f"--partitions must be at least 1, got {args.partitions}")
        created = asyncio.run(create_topics(args.broker, args.prefix, args.partitions))
        print(
            f"created {len(created)} topic(s){': ' + ', '.join(created) if created else ''}",
            file=sys.stderr,
        )
    for name, partitions in asyncio.run(list_topics(args.broker, args.prefix)).items():
        print(f"{name}\t{partitions} partitions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
