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
    from schemas.errors import InputError
    from streams.kafka import SPECS, create_topics, list_topics

    broker = need_broker(args)
    partitions = positive(args.partitions, "--partitions")
    if args.action == "create":
        created = asyncio.run(create_topics(broker, args.prefix, partitions))
        print(
            f"created {len(created)} topic(s){': ' + ', '.join(created) if created else ''}",
            file=sys.stderr,
        )
    listed = asyncio.run(list_topics(broker, args.prefix))
    for name, count in listed.items():
        print(f"{name}\t{count} partitions")
    if args.action == "create":
        wanted = {spec.name(args.prefix) for spec in SPECS}
        other = sorted(f"{n} has {c}" for n, c in listed.items() if n in wanted and c != partitions)
        if other:
            raise InputError(
                f"existing topics do not have the {partitions} partitions asked for: "
                f"{'; '.join(other)}. Kafka cannot shrink a topic, and growing one moves "
                "executions to other partitions than their state: pass the --partitions "
                "they have, or use a new --prefix"
            )
    return 0
