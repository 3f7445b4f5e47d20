"""`agentfold worker`: the live fold worker (embedded broker unless --broker is given)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from streams.cli.common import add_config_flags, add_model_flags, fold_config
from streams.config import WorkerSettings

if TYPE_CHECKING:
    from streams.cli.common import Subparsers

# Worker settings reachable as flags; every one of them also as AGENTFOLD_<SETTING> and
# in the [worker] table of --config.
FLAGS = {
    "broker": "--broker",
    "partitions": "--partitions",
    "app_id": "--app-id",
    "topic_prefix": "--prefix",
    "tick_interval_s": "--tick-interval",
    "session_timeout_s": "--session-timeout",
    "heartbeat_interval_s": "--heartbeat-interval",
    "commit_interval_s": "--commit-interval",
    "flush_interval_s": "--flush-interval",
    "flush_max_dirty": "--flush-max-dirty",
    "flush_max_outputs": "--flush-max-outputs",
    "fetch_max_records": "--fetch-max-records",
    "counters_interval_s": "--counters-interval",
    "linger_s": "--linger",
    "stop_timeout_s": "--stop-timeout",
    "web_port": "--web-port",
    "web_host": "--web-host",
    "processing_guarantee": "--guarantee",
    "log_level": "--log-level",
}


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "worker",
        help="run the live fold worker (embedded broker unless --broker is given)",
        description="Consume <prefix>.telemetry, fold each partition, keep state in "
        "changelog-backed tables and write runs, stagnation, healing, attribution and dead "
        "letters. Without --broker, starts the embedded broker first (in memory: for "
        "development only). Settings also come from the [worker] section of --config and "
        "AGENTFOLD_* variables.",
    )
    add_model_flags(p, WorkerSettings, FLAGS)
    p.add_argument(
        "--no-web", action="store_true", help="serve no metrics or probes (as --web-port 0)"
    )
    add_config_flags(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.config import load_worker_settings, read_config_file
    from streams.worker import run_worker

    doc = read_config_file(args.config) if args.config is not None else {}  # read once

    flags = {name: getattr(args, name) for name in FLAGS}
    if args.no_web:
        flags["web_port"] = 0
    ws = load_worker_settings(args.config, os.environ, flags, doc=doc)
    return run_worker(ws, fold_config(args, doc))
