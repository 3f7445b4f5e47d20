"""`agentfold broker`: the embedded Kafka-compatible broker in the foreground."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from streams.cli.stopping import exit_code

if TYPE_CHECKING:
    from streams.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "broker",
        help="run the embedded Kafka-compatible broker (Tansu) in the foreground",
        description="Start the embedded broker (in memory: data is gone when it stops) and "
        "print its address; Ctrl-C stops it. For development and demos only: run a real "
        "Kafka for anything you want to keep.",
    )
    p.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.kafka import EmbeddedBroker

    broker = EmbeddedBroker(port=args.port)
    with broker as bootstrap:
        print(bootstrap, flush=True)
        print(f"embedded broker listening on {bootstrap} (Ctrl-C to stop)", file=sys.stderr)
        try:
            while broker.running:  # it can die under us (killed, out of memory)
                time.sleep(0.5)
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (streams.cli.stopping)
            code = exit_code(exc)
        else:
            print(f"agentfold broker: the broker on {bootstrap} exited", file=sys.stderr)
            return 1
    print(f"agentfold broker: stopped; what {bootstrap} held is gone", file=sys.stderr)
    return code
