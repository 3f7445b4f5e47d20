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


def _add_broker_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--broker",
        default=os.environ.get("AGENTFOLD_BROKER"),
        metavar="HOST:PORT",
        help="Kafka bootstrap servers (default: $AGENTFOLD_BROKER)",
    )
    p.add_argument(
        "--prefix",
        default=os.environ.get("AGENTFOLD_TOPIC_PREFIX", "agentfold"),
        help="topic name prefix (default agentfold)",
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
        "--flush-interval",
        dest="flush_interval_s",
        type=float,
        metavar="S",
        help="seconds between state flushes to the changelog (2)",
    )
    worker.add_argument(
        "--linger",
        dest="linger_s",
        type=float,
        metavar="S",
        help="producer batching delay, Kafka's linger.ms (0.005)",
    )
    worker.add_argument(
        "--guarantee",
        dest="processing_guarantee",
        choices=["at_least_once", "exactly_once"],
        help="exactly_once needs transactions (real Kafka only)",
    )
    worker.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    _add_config_flags(worker)

    produce = sub.add_parser(
        "produce",
        help="publish a JSONL telemetry log to <prefix>.telemetry (keyed by execution)",
        description="Publish each line of a log (one event, or a JSON array of one "
        "execution's events) as one message keyed by its subject; a tick without a "
        "partition goes to every partition; unparseable lines go to partition 0 unkeyed "
        "(the worker dead-letters them). The same routing as `agentfold fold`.",
    )
    produce.add_argument("input", help="log file, or - for stdin")
    _add_broker_flags(produce)

    tail = sub.add_parser(
        "tail",
        help="print any agentfold topic, one readable line per record",
        description="Follow a topic (like tail -f) from its end, or from the beginning; "
        "colour on a terminal; --json prints the raw values.",
    )
    tail.add_argument(
        "topic",
        help="telemetry, runs, stagnation, healing, attribution, deadletter (or a full name)",
    )
    _add_broker_flags(tail)
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    tail.add_argument("--execution", metavar="ID", help="only records about this execution")
    tail.add_argument("--json", action="store_true", help="raw JSON values, one per line")
    tail.add_argument(
        "--to-end",
        action="store_true",
        help="stop at the end offsets taken at start instead of following",
    )

    replay = sub.add_parser(
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
    _add_broker_flags(replay)
    replay.add_argument("--execution", metavar="ID", help="rebuild only this execution")
    replay.add_argument(
        "--until",
        metavar="TIME",
        help="rebuild the state as of this event time (RFC 3339, e.g. 2026-11-22T10:00:00Z)",
    )
    replay.add_argument(
        "--out",
        metavar="FILE",
        help="write records here (- = stdout; the default unless --to-prefix or --verify)",
    )
    replay.add_argument(
        "--to-prefix",
        metavar="PREFIX",
        help="also write records to shadow topics PREFIX.<topic> (created; must be new)",
    )
    replay.add_argument(
        "--verify",
        action="store_true",
        help="compare with the live output topics; exit 1 on any difference",
    )
    replay.add_argument(
        "--jobs", type=int, metavar="N", help="processes folding partitions (default: CPUs)"
    )
    replay.add_argument("--quiet", "-q", action="store_true", help="no progress or summary")
    _add_config_flags(replay)

    runs = sub.add_parser(
        "runs",
        help="show one execution, or list runs, rebuilt from the log",
        description="`runs show ID` replays the execution's partition and prints its run, "
        "decisions with outcomes, problems, windows and scores, healing actions and attempts, "
        "and attribution chains. `runs list` replays everything and lists the runs.",
    )
    runs_sub = runs.add_subparsers(dest="runs_action", metavar="ACTION", required=True)
    show = runs_sub.add_parser("show", help="one execution, for a person (or --json)")
    show.add_argument("execution", metavar="ID")
    listing = runs_sub.add_parser("list", help="every run: status, goal, duration, decisions")
    listing.add_argument("--status", help="only runs with this status (e.g. running, failed)")
    listing.add_argument("--goal", metavar="G", help="only runs of this goal id")
    for p in (show, listing):
        _add_broker_flags(p)
        p.add_argument("--json", action="store_true", help="JSON instead of text")
        _add_config_flags(p)

    demo = sub.add_parser(
        "demo",
        help="the whole loop, live, in about a minute (what `make demo` runs)",
        description="Start the embedded broker (or use --broker), create the topics, start "
        "the fold worker and a healing executor, and drive a simulated fleet of six agents "
        "through the SDK on compressed time. Prints runs ending, windows closing, healing "
        "planned or suppressed, attempts coming back and chains being written; then a "
        "summary, and a check that replaying the telemetry offline gives exactly what was "
        "emitted live. Exit 0 when the loop finished and the check passed.",
    )
    demo.add_argument(
        "--broker",
        default=os.environ.get("AGENTFOLD_BROKER"),
        metavar="HOST:PORT",
        help="use this Kafka instead of the embedded broker (default: $AGENTFOLD_BROKER)",
    )
    demo.add_argument(
        "--prefix",
        help="topic prefix (default agentfold on the embedded broker, a fresh "
        "agentfold-demo-<time> on yours)",
    )
    demo.add_argument(
        "--partitions", type=int, default=4, metavar="N", help="partitions per topic (default 4)"
    )
    demo.add_argument(
        "--window",
        type=int,
        default=10,
        metavar="S",
        help="window length in seconds; every other timing scales with it (default 10)",
    )
    demo.add_argument("--no-verify", action="store_true", help="skip the replay check")
    demo.add_argument("--no-colour", action="store_true", help="no colour even on a terminal")

    executor = sub.add_parser(
        "executor",
        help="carry out planned healing actions and report each attempt back",
        description="Consume <prefix>.healing in a consumer group, run each planned action "
        "once through the handler for its action_type (snapshot → precheck → send → poll "
        "is_complete, seed 003) and append a healing_attempt event to <prefix>.telemetry. "
        "Without --handlers, every default action type (nudge, revise, escalate) is logged "
        "and acknowledged: point --handlers at your own.",
    )
    _add_broker_flags(executor)
    executor.add_argument(
        "--handlers",
        default="streams.handlers:acknowledge_handlers",
        metavar="MODULE:ATTR",
        help="a dict of action_type → handler, or a function returning one "
        "(default streams.handlers:acknowledge_handlers)",
    )
    executor.add_argument(
        "--group", default="agentfold-executor", help="consumer group (agentfold-executor)"
    )
    executor.add_argument(
        "--source",
        default="agentfold-executor",
        help="source of its reports and ledger records; attempts this source started "
        "(<prefix>.executor) are never run again (agentfold-executor)",
    )
    executor.add_argument(
        "--remember",
        type=int,
        default=100_000,
        metavar="N",
        help="started attempts kept in memory to skip redelivered plans (100000)",
    )
    executor.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="completion timeout (30)"
    )
    executor.add_argument("--poll", type=float, default=2.0, metavar="S", help="poll interval (2)")

    topics = sub.add_parser("topics", help="create or list the agentfold topics")
    topics.add_argument("action", choices=["create", "list"])
    _add_broker_flags(topics)
    topics.add_argument(
        "--partitions",
        type=int,
        default=int(os.environ.get("AGENTFOLD_PARTITIONS", "8")),
        metavar="N",
        help="partitions per topic when creating (default 8)",
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
        if args.command == "produce":
            return cmd_produce(args)
        if args.command == "tail":
            return cmd_tail(args)
        if args.command == "replay":
            return cmd_replay(args)
        if args.command == "runs":
            return cmd_runs(args)
        if args.command == "demo":
            return cmd_demo(args)
        if args.command == "executor":
            return cmd_executor(args)
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
            "flush_interval_s",
            "linger_s",
            "processing_guarantee",
            "log_level",
        )
    }
    ws = load_worker_settings(args.config, os.environ, flags)
    return run_worker(ws, _fold_config(args))


def _need_broker(args: argparse.Namespace) -> None:
    if not args.broker:
        raise InputError("no broker: pass --broker HOST:PORT or set AGENTFOLD_BROKER")


def cmd_produce(args: argparse.Namespace) -> int:
    import asyncio

    from streams.topicio import produce_lines
    from streams.topics import list_topics

    _need_broker(args)
    topic = f"{args.prefix}.telemetry"
    partitions = asyncio.run(list_topics(args.broker, args.prefix)).get(topic)
    if not partitions:
        raise InputError(
            f"topic {topic} not found on {args.broker}: create the topics first "
            f"(agentfold topics create --prefix {args.prefix})"
        )
    with ExitStack() as stack:
        source = _open_input(args.input, stack)
        lines = [line for line in source.read().splitlines() if line.strip()]
    sent = asyncio.run(produce_lines(args.broker, topic, lines, partitions))
    print(f"produced {sent} message(s) to {topic} ({partitions} partitions)", file=sys.stderr)
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    from streams.tail import resolve_topic, run_tail

    _need_broker(args)
    topic, logical = resolve_topic(args.topic, args.prefix)
    run_tail(
        args.broker,
        topic,
        logical,
        args.from_beginning,
        args.execution,
        args.json,
        args.to_end,
    )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    import asyncio
    import shutil

    from schemas.timefmt import parse_rfc3339_ms
    from streams.progress import Progress
    from streams.replay import ReplayRequest, replay
    from streams.shadow import check_shadow_prefix, publish_shadow
    from streams.verify import group_replay, render_report, verify

    _need_broker(args)
    until_ms = None
    if args.until is not None:
        try:
            until_ms = parse_rfc3339_ms(args.until)
        except ValueError:
            raise InputError(
                f"--until {args.until!r} is not an RFC 3339 time (e.g. 2026-11-22T10:00:00Z)"
            ) from None
        if args.verify:
            raise InputError(
                "--verify compares the whole log with the live topics; it cannot be combined "
                "with --until (live topics hold the present, not a past state)"
            )
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    if args.to_prefix is not None:
        asyncio.run(check_shadow_prefix(args.broker, args.prefix, args.to_prefix))
    out_name = (
        args.out if args.out is not None else (None if (args.verify or args.to_prefix) else "-")
    )
    request = ReplayRequest(args.broker, args.prefix, args.execution, until_ms, args.jobs)
    progress = None if args.quiet else Progress("replay", 0, unit="events")
    result = replay(request, _fold_config(args), progress=progress)
    try:
        if out_name == "-":
            sink = sys.stdout.buffer
            for line in result.lines():
                sink.write(line)
            sink.flush()
        elif out_name is not None:
            try:
                with open(out_name, "wb") as f:
                    for line in result.lines():
                        f.write(line)
            except OSError as exc:
                raise InputError(f"cannot write {out_name}: {exc.strerror}") from None
        if not args.quiet:
            rate = result.events / result.elapsed_s if result.elapsed_s > 0 else 0.0
            topics = ", ".join(f"{t} {n}" for t, n in sorted(result.by_topic().items()))
            scope = f"execution {args.execution}, " if args.execution else ""
            cut = sum(1 for r in result.parts.values() if r.cut)
            until = f", cut at {args.until} in {cut} partition(s)" if until_ms is not None else ""
            print(
                f"agentfold replay: {scope}{len(result.parts)} of {result.partitions} "
                f"partition(s), {result.messages:,} messages, {result.events:,} events, "
                f"{result.rejected} rejected → {result.outputs:,} records ({topics or 'none'})"
                f"{until} in {result.elapsed_s:.2f}s ({rate:,.0f} events/s, {result.jobs} job(s))",
                file=sys.stderr,
            )
        if args.to_prefix is not None:
            counts = asyncio.run(
                publish_shadow(
                    args.broker, args.prefix, args.to_prefix, result.partitions, result.records()
                )
            )
            if not args.quiet:
                print(
                    f"wrote {sum(counts.values()):,} records to {args.to_prefix}.* "
                    f"({', '.join(f'{t} {n}' for t, n in sorted(counts.items())) or 'none'})",
                    file=sys.stderr,
                )
        if args.verify:
            report = verify(
                args.broker,
                args.prefix,
                group_replay(result.records()),
                partitions=sorted(result.parts),
                execution=args.execution,
                input_ends={p: r.end for p, r in result.parts.items()},
            )
            print(
                render_report(report, args.prefix),
                file=sys.stderr if out_name == "-" else sys.stdout,
            )
            return 0 if report.ok else 1
        return 0
    finally:
        shutil.rmtree(result.workdir, ignore_errors=True)


def cmd_runs(args: argparse.Namespace) -> int:
    import shutil

    from streams.replay import ReplayRequest, replay
    from streams.runs_view import (
        EventLog,
        execution_json,
        execution_view,
        latest_runs,
        print_execution,
        print_runs,
    )

    _need_broker(args)
    cfg = _fold_config(args)
    if args.runs_action == "show":
        log = EventLog(args.execution)
        request = ReplayRequest(args.broker, args.prefix, execution=args.execution)
        result = replay(request, cfg, on_event=log)
    else:
        log = None
        result = replay(ReplayRequest(args.broker, args.prefix), cfg)
    try:
        records = [r for _, r in result.records()]
    finally:
        shutil.rmtree(result.workdir, ignore_errors=True)
    if log is not None:
        view = execution_view(records)
        if view.run is None and not records and not log.decisions:
            raise InputError(
                f"execution {args.execution!r} not found in {args.prefix}.telemetry "
                "(check the id and --prefix)"
            )
        if args.json:
            sys.stdout.buffer.write(execution_json(view, log) + b"\n")
        else:
            print_execution(view, log, sys.stdout)
        return 0
    rows = latest_runs(records)
    if args.status:
        rows = [r for r in rows if r.status == args.status]
    if args.goal:
        rows = [r for r in rows if r.goal_id == args.goal]
    if args.json:
        import dataclasses

        from schemas.codec import canonical_json

        for row in rows:
            sys.stdout.buffer.write(canonical_json(dataclasses.asdict(row)) + b"\n")
    else:
        print_runs(rows, sys.stdout)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.demo import DemoSettings, run_demo

    if args.window < 4:
        raise InputError(f"--window must be at least 4 seconds, got {args.window}")
    if args.partitions < 1:
        raise InputError(f"--partitions must be at least 1, got {args.partitions}")
    settings = DemoSettings(
        broker=args.broker,
        prefix=args.prefix,
        partitions=args.partitions,
        window_s=args.window,
        verify=not args.no_verify,
    )
    colour = sys.stdout.isatty() and not args.no_colour and "NO_COLOR" not in os.environ
    return run_demo(settings, sys.stdout, colour)


def cmd_executor(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal

    from streams.executor import Executor, ExecutorSettings
    from streams.handlers import load_handlers

    _need_broker(args)
    if args.timeout <= 0 or args.poll <= 0 or args.remember <= 0:
        raise InputError("--timeout, --poll and --remember must be positive")
    handlers = load_handlers(args.handlers)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("aiokafka", "kafka"):
        logging.getLogger(name).setLevel(logging.WARNING)
    settings = ExecutorSettings(
        args.broker,
        args.prefix,
        group=args.group,
        source=args.source,
        timeout_s=args.timeout,
        poll_s=args.poll,
        remember=args.remember,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(
            f"agentfold executor: {args.prefix}.healing on {args.broker} as group {args.group}; "
            f"handlers for {', '.join(sorted(handlers))} (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        stats = await Executor(settings, handlers).run(stop)
        outcomes = ", ".join(f"{n} {o}" for o, n in sorted(stats.by_outcome.items())) or "none"
        print(
            f"agentfold executor: {stats.planned} planned actions seen, {stats.ran} run "
            f"({outcomes}), {stats.already_done} already done",
            file=sys.stderr,
        )

    asyncio.run(main())
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    import asyncio

    from streams.topics import create_topics, list_topics

    _need_broker(args)
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
