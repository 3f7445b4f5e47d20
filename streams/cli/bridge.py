"""`agentfold bridge otlp`: OpenTelemetry spans from Kafka into the telemetry topic."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from schemas.errors import AgentfoldError
from streams.cli.common import add_broker_flags, add_model_flags, need_broker
from streams.cli.service import run_service, run_serving_metrics, service_settings
from streams.otel.settings import BridgeSettings

if TYPE_CHECKING:
    import asyncio

    from streams.cli.common import Subparsers

FLAGS = {
    "source_topic": "--from",
    "encoding": "--encoding",
    "group": "--group",
    "remember": "--remember",
    "session_timeout_s": "--session-timeout",
    "heartbeat_interval_s": "--heartbeat-interval",
    "web_port": "--web-port",
    "web_host": "--web-host",
}


class MissingExtra(AgentfoldError):
    """The command needs an optional dependency that is not installed."""


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "bridge",
        help="feed agentfold from other telemetry (OpenTelemetry spans)",
        description="Bridges from other telemetry into <prefix>.telemetry.",
    )
    kinds = p.add_subparsers(dest="bridge", metavar="SOURCE", required=True)
    otlp = kinds.add_parser(
        "otlp",
        help="OTLP spans the OpenTelemetry Collector's Kafka exporter writes",
        description="Consume ExportTraceServiceRequest messages (the Collector's Kafka "
        "exporter; GenAI, OpenInference and Traceloop spans) in a consumer group, map "
        "them to agentfold events (docs/opentelemetry.md) and produce them, per "
        "execution, to <prefix>.telemetry. Unparseable messages go to <prefix>.deadletter.",
    )
    add_broker_flags(otlp)
    add_model_flags(otlp, BridgeSettings, FLAGS)
    otlp.add_argument(
        "--no-web", action="store_true", help="serve no metrics or probes (as --web-port 0)"
    )
    otlp.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import logging

    try:
        import google.protobuf  # noqa: F401
        import opentelemetry.proto  # noqa: F401
    except ImportError:
        raise MissingExtra(
            "the OTLP bridge needs opentelemetry-proto: pip install 'agentfold[otel]'"
        ) from None
    from streams.ops import BridgeCollector
    from streams.otel.bridge import Bridge

    broker = need_broker(args)
    settings = service_settings(BridgeSettings, args, FLAGS, broker, "bridge settings")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    async def body(stop: asyncio.Event) -> None:
        print(
            f"agentfold bridge: {settings.source_topic} ({settings.encoding}) on {broker} → "
            f"{args.prefix}.telemetry, as group {settings.group} (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        bridge = Bridge(settings)
        stats = bridge.stats
        try:
            await run_serving_metrics(
                "agentfold bridge",
                bridge.run(stop),
                BridgeCollector(stats),
                lambda: None if bridge.joined else "joining the consumer group",
                settings.web_host,
                settings.web_port,
            )
        finally:
            ignored = sum(stats.ignored.values())
            print(
                f"agentfold bridge: {stats.messages} messages, {stats.spans} spans → "
                f"{stats.events} events ({ignored} spans or events left out, "
                f"{stats.dead_letters} messages dead-lettered)",
                file=sys.stderr,
            )

    return run_service("agentfold bridge", body)
