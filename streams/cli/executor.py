"""`agentfold executor`: carry out planned healing actions and report each attempt."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from streams.cli.common import add_broker_flags, add_model_flags, need_broker
from streams.cli.stopping import SIGNALS, at_once
from streams.healing.executor import ExecutorSettings, ExecutorStats

if TYPE_CHECKING:
    from streams.cli.common import Subparsers

FLAGS = {
    "group": "--group",
    "source": "--source",
    "remember": "--remember",
    "timeout_s": "--timeout",
    "poll_s": "--poll",
    "max_in_flight": "--max-in-flight",
    "lookahead_plans": "--lookahead-plans",
    "session_timeout_s": "--session-timeout",
    "heartbeat_interval_s": "--heartbeat-interval",
    "web_port": "--web-port",
    "web_host": "--web-host",
}
DEFAULT_HANDLERS = "streams.healing.handlers:acknowledge_handlers"


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "executor",
        help="carry out planned healing actions and report each attempt back",
        description="Consume <prefix>.healing in a consumer group, run each planned action "
        "once through the handler for its action_type (snapshot → precheck → send → poll "
        "is_complete, seed 003) and append a healing_attempt event to <prefix>.telemetry. "
        "Without --handlers, every default action type (nudge, revise, escalate) is logged "
        "and acknowledged: point --handlers at your own.",
    )
    add_broker_flags(p)
    p.add_argument(
        "--handlers",
        default=DEFAULT_HANDLERS,
        metavar="MODULE:ATTR",
        help="a dict of action_type → handler, or a function returning one "
        f"(default {DEFAULT_HANDLERS})",
    )
    add_model_flags(p, ExecutorSettings, FLAGS)
    p.add_argument(
        "--no-web", action="store_true", help="serve no metrics or probes (as --web-port 0)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from streams.config import from_flags
    from streams.healing import Executor, load_handlers

    broker = need_broker(args)
    handlers = load_handlers(args.handlers)
    values = {name: getattr(args, name) for name in FLAGS}
    if args.no_web:
        values["web_port"] = 0
    settings = from_flags(
        ExecutorSettings,
        {"broker": broker, "topic_prefix": args.prefix, **values},
        "executor settings",
        env=os.environ,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("aiokafka", "kafka"):
        logging.getLogger(name).setLevel(logging.WARNING)

    received: list[int] = []

    def on_signal(signum: int, stop: asyncio.Event) -> None:
        # The first stops taking plans and lets attempts in flight finish and report;
        # a second exits at once (those attempts are re-planned at their ack timeout).
        if received:
            at_once(signum, "agentfold executor")
        received.append(signum)
        stop.set()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, on_signal, sig, stop)
        print(
            f"agentfold executor: {args.prefix}.healing on {broker} as group {settings.group}; "
            f"handlers for {', '.join(sorted(handlers))} (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        executor = Executor(settings, handlers)
        web = await _serve_web(settings, executor.stats)
        try:
            stats = await executor.run(stop)
        finally:
            if web is not None:
                await web.cleanup()
        outcomes = ", ".join(f"{n} {o}" for o, n in sorted(stats.by_outcome.items())) or "none"
        print(
            f"agentfold executor: {stats.planned} planned actions seen, {stats.ran} run "
            f"({outcomes}), {stats.already_done} already done",
            file=sys.stderr,
        )

    asyncio.run(main())
    return 128 + received[0] if received else 0


async def _serve_web(settings: ExecutorSettings, stats: ExecutorStats) -> Any:
    """/metrics, /healthz, /readyz (docs/operations.md), unless the port is 0."""
    if not settings.web_port:
        return None
    from prometheus_client import CollectorRegistry

    from streams.ops import ExecutorCollector, Probes, serve

    registry = CollectorRegistry()
    registry.register(ExecutorCollector(stats))

    def not_ready() -> str | None:
        return None if stats.joined else "joining the consumer group"

    web = await serve(Probes(registry, not_ready), settings.web_host, settings.web_port)
    if web is not None:
        print(
            f"agentfold executor: metrics on http://{settings.web_host}:{settings.web_port}"
            "/metrics",
            file=sys.stderr,
        )
    return web
