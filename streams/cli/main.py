"""`agentfold`: the parser made of every command module, and one error path."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from schemas.errors import AgentfoldError
from streams.cli import (
    actions,
    bridge,
    broker,
    config,
    demo,
    executor,
    fold,
    goals,
    produce,
    replay,
    runs,
    schema,
    status,
    stopping,
    tail,
    topics,
    worker,
)
from streams.cli.common import unknown_env
from streams.cli.stopping import exit_code
from streams.kafka.logs import quiet_retries

# In the order `agentfold --help` lists them.
COMMANDS = (
    fold,
    schema,
    config,
    broker,
    topics,
    worker,
    status,
    produce,
    tail,
    replay,
    runs,
    goals,
    actions,
    demo,
    executor,
    bridge,
)

EPILOG = """\
environment:
  AGENTFOLD_BROKER        Kafka bootstrap servers for every command (--broker)
  AGENTFOLD_TOPIC_PREFIX  topic prefix (--prefix; default agentfold)
  AGENTFOLD_PARTITIONS    partitions when creating topics and folding offline (8)
  AGENTFOLD_<SETTING>     any fold or worker setting, e.g. AGENTFOLD_WINDOW_S=600
                          (`agentfold config --show` lists them with their sources)
  AGENTFOLD_NATIVE=0      run the fold as pure Python instead of the compiled build
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentfold",
        description="Event-sourced processing of AI-agent telemetry: runs, stagnation, "
        "healing actions and attribution chains, identical live and on replay.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and the Kafka client's own logs"
    )
    parser.add_argument("--version", action="version", version=f"agentfold {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("agentfold")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with stopping.installed():
            return _main(argv)
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
        if not stopping.interrupted(exc):
            raise
        # before the command ran, or a command let it out
        code = exit_code(exc)
        print(f"agentfold: {'terminated' if code == 143 else 'interrupted'}", file=sys.stderr)
        return code


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    for warning in unknown_env(dict(os.environ)):
        print(warning, file=sys.stderr)
    from streams.native import activate

    activate()  # before any command imports the fold
    quiet_retries()  # a broker that goes away must not bury the log in retries
    if not args.debug:
        # The Kafka client logs every failed connection attempt; the error we raise says
        # what went wrong once, with what to try (--debug shows both).
        for name in ("aiokafka", "kafka"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        from streams.config import load_kafka_security
        from streams.kafka import clients

        # Every client this command builds authenticates the same way.
        clients.configure(load_kafka_security(getattr(args, "config", None), os.environ))
        return int(args.run(args))
    except AgentfoldError as exc:
        if args.debug:
            raise
        print(f"agentfold: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `agentfold … | head`: the reader is gone, not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
