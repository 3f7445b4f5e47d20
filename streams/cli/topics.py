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
    p.add_argument(
        "--replication-factor",
        type=int,
        default=1,
        metavar="N",
        help="copies of each partition when creating (default 1; 3 on a production cluster)",
    )
    p.add_argument(
        "--min-insync-replicas",
        type=int,
        default=None,
        metavar="N",
        help="min.insync.replicas of each topic when creating (default: the broker's; "
        "2 with --replication-factor 3 survives one broker down without losing a write)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from schemas.errors import InputError
    from streams.kafka import SPECS, create_topics, list_topics

    broker = need_broker(args)
    partitions = positive(args.partitions, "--partitions")
    replication = positive(args.replication_factor, "--replication-factor")
    min_insync = args.min_insync_replicas
    if min_insync is not None and not 0 < positive(min_insync, "--min-insync-replicas") <= (
        replication
    ):
        raise InputError(
            f"--min-insync-replicas {min_insync} is more than --replication-factor "
            f"{replication}: no write could ever succeed"
        )
    if args.action == "create":
        created = asyncio.run(
            create_topics(
                broker, args.prefix, partitions, replication=replication, min_insync=min_insync
            )
        )
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
