"""What the long-running client commands (executor, bridge) share: the stop contract
(the first SIGINT/SIGTERM stops taking work and lets the work under way finish; a second
exits at once; exit 128 + the signal) and the metrics and probes port."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from streams.cli.stopping import SIGNALS, at_once

M = TypeVar("M", bound=BaseModel)


def service_settings(
    model: type[M], args: argparse.Namespace, flags: dict[str, str], broker: str, what: str
) -> M:
    """The settings of a service command: its flags (`--no-web`: port 0), then the
    AGENTFOLD_* environment, then the defaults."""
    from streams.config import from_flags

    values = {name: getattr(args, name) for name in flags}
    if args.no_web:
        values["web_port"] = 0
    given = {"broker": broker, "topic_prefix": args.prefix, **values}
    return from_flags(model, given, what, env=os.environ)


def run_service(what: str, body: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run `body(stop)` until it returns; a stop signal sets `stop`."""
    received: list[int] = []

    def on_signal(signum: int, stop: asyncio.Event) -> None:
        if received:
            at_once(signum, what)
        received.append(signum)
        stop.set()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, on_signal, sig, stop)
        await body(stop)

    asyncio.run(main())
    return 128 + received[0] if received else 0


async def serve_metrics(
    what: str, collector: Any, not_ready: Callable[[], str | None], host: str, port: int
) -> Any:
    """/metrics, /healthz, /readyz (docs/operations.md) on `port`, unless it is 0."""
    if not port:
        return None
    from prometheus_client import CollectorRegistry

    from streams.ops import Probes, serve

    registry = CollectorRegistry()
    registry.register(collector)
    web = await serve(Probes(registry, not_ready), host, port)
    if web is not None:
        print(f"{what}: metrics on http://{host}:{port}/metrics", file=sys.stderr)
    return web


async def run_serving_metrics(
    what: str,
    work: Awaitable[object],
    collector: Any,
    not_ready: Callable[[], str | None],
    host: str,
    port: int,
) -> None:
    """Await `work` with /metrics and the probes up on `port` (unless 0) meanwhile."""
    web = await serve_metrics(what, collector, not_ready, host, port)
    try:
        await work
    finally:
        if web is not None:
            await web.cleanup()
