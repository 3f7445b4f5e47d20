"""Operating a running process: Prometheus metrics and health probes over HTTP.

Nothing here is on the hot path: the metrics are read from the counters and state the
worker keeps anyway, at scrape time (`WorkerCollector`); `serve` runs `/metrics`,
`/healthz` and `/readyz` on the process's event loop (aiohttp, installed with Faust).
"""

from streams.ops.metrics import BridgeCollector, ExecutorCollector, WorkerCollector, WorkerView
from streams.ops.web import Probes, serve

__all__ = [
    "BridgeCollector",
    "ExecutorCollector",
    "Probes",
    "WorkerCollector",
    "WorkerView",
    "serve",
]
