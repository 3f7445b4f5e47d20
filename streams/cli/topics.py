"""`agentfold topics create|list`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from streams.cli.common import (
    add_broker_flags,
    add_partitions_flag,
    need_broker,
    positive,
)

if TYPE_CHECKING:
    from streams.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "topics",
        help="create or list the agentfold topics",
        description="Create the agentfold topics with their cleanup policy and retention "
        "spelled out (idempotent), or list them with their partition counts.",
    )
    p.add_argument("action", choices=["create", "list"], help="create the topics, or list them")
    add_broker_flags(p)
    add_partitions_flag(p, "partitions per topic when creating")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.kafka import create_topics, list_topics

    broker = need_broker(args)
    if args.action == "create":
        partitions = positive(args.partitions, "--partitions")
        created = asyncio.run(create_topics(broker, args.prefix, partitions))
        print(
            f"created {len(created)} topic(s){': ' + ', '.join(created) if created else ''}",
            file=sys.stderr,
        )
    for name, partitions in asyncio.run(list_topics(broker, args.prefix)).items():
        print(f"{name}\t{partitions} partitions")
    return 0
