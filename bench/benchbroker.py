"""Where a benchmark runs: the embedded broker by default, or the one `--broker` names.

A given broker may hold earlier runs' topics and consumer groups, so every name a run
creates there carries a prefix of its own; on a fresh embedded broker the names stay
short."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from streams.kafka.broker import EmbeddedBroker


def add_broker_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker",
        metavar="HOST:PORT",
        help="run on this Kafka broker instead of starting the embedded one",
    )


@contextmanager
def bench_broker(address: str | None) -> Iterator[tuple[str, str, str]]:
    """(bootstrap address, prefix for topic and group names, what to call the broker)."""
    if address is not None:
        yield address, f"bench{os.getpid()}t{int(time.time())}-", f"broker {address}"
        return
    with EmbeddedBroker() as bootstrap:
        yield bootstrap, "", "embedded broker (Tansu)"
