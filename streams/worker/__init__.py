"""The live worker: Faust wiring only — the app, its agent, timers and rebalance
callbacks (`app`); state flushes (`flusher`) and restore and gap repair (`restore`)
are their own modules; Faust private-API workarounds live in `faust_compat`, each with
its reason. Importing this package does not import Faust (`run_worker` does)."""

from streams.worker.run import run_worker, worker_argv

__all__ = ["run_worker", "worker_argv"]
