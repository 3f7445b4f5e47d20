"""`agentfold worker`: start (or connect to) a broker, create topics, run the fold worker."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from processors.config import FoldConfig
from streams import native
from streams.config import WorkerSettings
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.topics import create_topics

QUIET_LOGGERS = ("faust", "mode", "aiokafka", "kafka")


def quiet_internals(level: str) -> None:
    """Faust, mode and aiokafka are chatty at INFO; keep them at WARNING unless debugging."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)


def run_worker(ws: WorkerSettings, cfg: FoldConfig) -> int:

    from streams.worker.app import KAFKA_DEFAULT_MESSAGE_MAX, FoldWorker
    from streams.worker.faust_compat import SignalledWorker

    embedded: EmbeddedBroker | None = None
    if ws.broker is None:
        embedded = EmbeddedBroker()
        ws = ws.model_copy(update={"broker": embedded.start()})
        print(f"agentfold worker: embedded broker on {ws.broker}", file=sys.stderr, flush=True)
    try:
        assert ws.broker is not None
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # Faust's worker runs on this loop
        created = loop.run_until_complete(create_topics(ws.broker, ws.topic_prefix, ws.partitions))
        if created:
            print(f"agentfold worker: created {len(created)} topics", file=sys.stderr)
        worker_app = FoldWorker(ws, cfg)
        if worker_app.record_max > KAFKA_DEFAULT_MESSAGE_MAX:
            print(
                f"agentfold worker: warning: with state_max_bytes={cfg.state_max_bytes} a state "
                f"record can reach {worker_app.record_max} bytes, over Kafka's default limit "
                f"({KAFKA_DEFAULT_MESSAGE_MAX}); the changelog topic is created with "
                f"max.message.bytes={worker_app.record_max}, but an existing topic or a "
                "broker's message.max.bytes may refuse it — lower state_max_bytes or raise them",
                file=sys.stderr,
            )
        worker = SignalledWorker(
            worker_app.app,
            loglevel=ws.log_level.upper(),
            quiet=True,
            loop=loop,
            override_logging=True,
        )
        worker.stop_timeout_s = ws.stop_timeout_s
        if embedded is not None:
            worker.on_abort = embedded.kill  # exiting at once: no graceful wait
        quiet_internals(ws.log_level)
        print(
            f"agentfold worker: folding {ws.topic_prefix}.telemetry ({ws.partitions} partitions) "
            f"on {ws.broker} as group {ws.app_id}; fold: {native.status()}",
            file=sys.stderr,
            flush=True,
        )
        code = 0
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            code = int(exc.code or 0)
        if worker.stopped_by is not None:  # a clean stop on a signal: say so, as shells do
            print("agentfold worker: stopped", file=sys.stderr)
            return 128 + worker.stopped_by
        return code
    finally:
        if embedded is not None:
            embedded.stop()


def worker_argv(
    broker: str,
    app_id: str,
    partitions: int,
    tick_interval_s: float = 0.0,
    log_level: str = "info",
    embedded: bool = True,
    config: Path | None = None,
    web_port: int = 0,
) -> list[str]:
    """Command line of a worker subprocess with app id and topic prefix both `app_id`:
    for tests, benchmarks and the demo. On the embedded broker, its short group timeouts
    (a real Kafka refuses sessions below its group.min.session.timeout.ms, 6 s)."""
    argv = [
        sys.executable,
        "-m",
        "streams.cli",
        "worker",
        "--broker",
        broker,
        "--app-id",
        app_id,
        "--prefix",
        app_id,
        "--partitions",
        str(partitions),
        "--tick-interval",
        str(tick_interval_s),
        "--log-level",
        log_level,
        "--web-port",  # off unless asked: several of these run side by side
        str(web_port),
    ]
    if embedded:
        argv += ["--session-timeout", "2", "--heartbeat-interval", "0.3"]
        argv += ["--commit-interval", "0.5"]
    if config is not None:
        argv += ["--config", str(config)]
    return argv
