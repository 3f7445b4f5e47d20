"""`agentfold executor`: carry out planned healing actions and report each attempt."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from streams.cli.common import add_broker_flags, add_model_flags, need_broker
from streams.cli.service import run_service, run_serving_metrics, service_settings
from streams.healing.executor import ExecutorSettings

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

    from streams.healing import Executor, load_handlers
    from streams.ops import ExecutorCollector

    broker = need_broker(args)
    handlers = load_handlers(args.handlers)
    settings = service_settings(ExecutorSettings, args, FLAGS, broker, "executor settings")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("aiokafka", "kafka"):
        logging.getLogger(name).setLevel(logging.WARNING)

    async def body(stop: asyncio.Event) -> None:
        # A stop takes no more plans and lets attempts in flight finish and report; a
        # second signal exits at once (those attempts are re-planned at their ack timeout).
        print(
            f"agentfold executor: {args.prefix}.healing on {broker} as group {settings.group}; "
            f"handlers for {', '.join(sorted(handlers))} (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        executor = Executor(settings, handlers)
        stats = executor.stats
        await run_serving_metrics(
            "agentfold executor",
            executor.run(stop),
            ExecutorCollector(stats),
            lambda: None if stats.joined else "joining the consumer group",
            settings.web_host,
            settings.web_port,
        )
        outcomes = ", ".join(f"{n} {o}" for o, n in sorted(stats.by_outcome.items())) or "none"
        print(
            f"agentfold executor: {stats.planned} planned actions seen, {stats.ran} run "
            f"({outcomes}), {stats.already_done} already done",
            file=sys.stderr,
        )

    return run_service("agentfold executor", body)
