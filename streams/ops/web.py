"""`/metrics`, `/healthz` and `/readyz` over HTTP, on the process's own event loop.

`/healthz` answers 200 as long as the event loop runs handlers at all (a blocked loop
cannot answer: the probe times out). `/readyz` answers 200 once the process can do its
work — for a worker: partitions assigned, no restore in progress, producer up — and 503
with the reason until then. `/metrics` is the Prometheus text exposition of a registry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger("agentfold.web")


@dataclass(slots=True)
class Probes:
    registry: CollectorRegistry
    # None: ready; else why not (e.g. "restoring partition 3")
    not_ready: Callable[[], str | None]


async def serve(probes: Probes, host: str, port: int) -> web.AppRunner | None:
    """Start serving; returns the runner (its `cleanup()` stops it), or None when the
    port cannot be bound — then the process runs on without it (logged), since metrics
    must never take the work down."""

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(probes.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        reason = probes.not_ready()
        if reason is None:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=f"not ready: {reason}\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        log.warning("metrics and probes are off: cannot listen on %s:%d (%s)", host, port, exc)
        await runner.cleanup()
        return None
    return runner
