"""`agentfold actions show ID`: one action's attribution chain, rebuilt from the log."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from schemas.errors import InputError
from streams.cli.common import add_broker_flags, add_config_flags, fold_config, need_broker

if TYPE_CHECKING:
    from streams.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "actions",
        help="one action's attribution chain: steps, credits, observations, outcome",
        description="Replays the log and prints the attribution chain of an action (the "
        "seed's get_action): its steps with their credit, observations, outcome and success "
        "score. An action id used by more than one execution shows each.",
    )
    actions = p.add_subparsers(dest="actions_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="one action, for a person (or --json)")
    show.add_argument("action", metavar="ID", help="the action id")
    show.add_argument(
        "--jobs", type=int, metavar="N", help="replay processes (as `agentfold replay --jobs`)"
    )
    add_broker_flags(show)
    show.add_argument("--json", action="store_true", help="JSON instead of text")
    add_config_flags(show)
    show.set_defaults(run=run_show)


def run_show(args: argparse.Namespace) -> int:
    from schemas.canonical import canonical_json
    from schemas.outputs import ATTRIBUTION
    from streams.replay import ReplayRequest, replay
    from streams.views.analysis import action_text

    request = ReplayRequest(need_broker(args), args.prefix, jobs=args.jobs)
    with replay(request, fold_config(args)) as result:
        chains = [
            r.value
            for _, r in result.records()
            if r.topic == ATTRIBUTION and r.value.get("action_id") == args.action
        ]
    if not chains:
        raise InputError(
            f"no closed action {args.action!r} in {args.prefix}.telemetry (an action gets its "
            "chain when it completes, times out or is evicted; check the id and --prefix)"
        )
    chains.sort(key=lambda c: (c["execution_id"], c["completed_at"]))
    for chain in chains:
        if args.json:
            sys.stdout.buffer.write(canonical_json(chain) + b"\n")
        else:
            print(action_text(chain))
    return 0
