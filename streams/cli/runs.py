"""`agentfold runs show|list`: one execution, or every run, rebuilt from the log."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from schemas.errors import InputError
from schemas.events import RunStatus
from streams.cli.common import (
    add_broker_flags,
    add_config_flags,
    fold_config,
    need_broker,
)

if TYPE_CHECKING:
    from streams.cli.common import Subparsers

STATUSES = [s.value for s in RunStatus]


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "runs",
        help="show one execution, or list runs, rebuilt from the log",
        description="`runs show ID` replays the execution's partition and prints its run, "
        "decisions with outcomes, problems, windows and scores, healing actions and attempts, "
        "and attribution chains. `runs list` replays everything and lists the runs.",
    )
    actions = p.add_subparsers(dest="runs_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="one execution, for a person (or --json)")
    show.add_argument("execution", metavar="ID", help="the execution id")
    listing = actions.add_parser("list", help="every run: status, goal, duration, decisions")
    listing.add_argument("--status", choices=STATUSES, help="only runs with this status")
    listing.add_argument("--goal", metavar="G", help="only runs of this goal id")
    listing.add_argument(
        "--jobs", type=int, metavar="N", help="replay processes (as `agentfold replay --jobs`)"
    )
    for q in (show, listing):
        add_broker_flags(q)
        q.add_argument("--json", action="store_true", help="JSON instead of text")
        add_config_flags(q)
    show.set_defaults(run=run_show)
    listing.set_defaults(run=run_list)


def run_show(args: argparse.Namespace) -> int:
    from streams.replay import ReplayRequest, replay
    from streams.views.runs import EventLog, execution_json, execution_view, print_execution

    broker = need_broker(args)
    log = EventLog(args.execution)
    request = ReplayRequest(broker, args.prefix, execution=args.execution)
    with replay(request, fold_config(args), on_event=log) as result:
        records = [r for _, r in result.records()]
    view = execution_view(records)
    if view.run is None and not records and not log.decisions:
        raise InputError(
            f"execution {args.execution!r} not found in {args.prefix}.telemetry "
            "(check the id and --prefix)"
        )
    if args.json:
        sys.stdout.buffer.write(execution_json(view, log) + b"\n")
    else:
        print_execution(view, log, sys.stdout)
    return 0


def run_list(args: argparse.Namespace) -> int:
    import dataclasses

    from schemas.canonical import canonical_json
    from streams.replay import ReplayRequest, replay
    from streams.views.runs import latest_runs, print_runs

    broker = need_broker(args)
    request = ReplayRequest(broker, args.prefix, jobs=args.jobs)
    with replay(request, fold_config(args)) as result:
        rows = latest_runs([r for _, r in result.records()])
    if args.status:
        rows = [r for r in rows if r.status == args.status]
    if args.goal:
        rows = [r for r in rows if r.goal_id == args.goal]
    if args.json:
        for row in rows:
            sys.stdout.buffer.write(canonical_json(dataclasses.asdict(row)) + b"\n")
    else:
        print_runs(rows, sys.stdout)
    return 0
