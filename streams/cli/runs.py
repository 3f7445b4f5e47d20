"""`agentfold runs show|list`: one execution, or every run, rebuilt from the log."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

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
        help="show, list, analyse or compare runs, rebuilt from the log",
        description="`runs show ID` replays the execution's partition and prints its run, "
        "decisions with outcomes, problems, windows and scores, healing actions and attempts, "
        "and attribution chains. `runs list` replays everything and lists the runs. "
        "`runs analyze ID` explains a failed run (hive's failure analysis); `runs compare A B` "
        "says how two runs differ (docs/analysis.md).",
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
    analyze = actions.add_parser(
        "analyze", help="why a failed run failed: failure point, chain, problems, suggestions"
    )
    analyze.add_argument("execution", metavar="ID", help="the execution id")
    compare = actions.add_parser("compare", help="how two runs differ")
    compare.add_argument("first", metavar="A", help="an execution id")
    compare.add_argument("second", metavar="B", help="another execution id")
    for q in (show, listing, analyze, compare):
        add_broker_flags(q)
        q.add_argument("--json", action="store_true", help="JSON instead of text")
        add_config_flags(q)
    show.set_defaults(run=run_show)
    listing.set_defaults(run=run_list)
    analyze.set_defaults(run=run_analyze)
    compare.set_defaults(run=run_compare)


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


def _latest_run(args: argparse.Namespace, execution: str) -> dict[str, Any]:
    """The execution's last run record, replayed from its partition of the log."""
    from schemas.outputs import RUNS
    from streams.replay import ReplayRequest, replay

    request = ReplayRequest(need_broker(args), args.prefix, execution=execution)
    latest: dict[str, Any] | None = None
    with replay(request, fold_config(args)) as result:
        for _, record in result.records():
            if record.topic == RUNS and record.value.get("execution_id") == execution:
                latest = record.value
    if latest is None:
        raise InputError(
            f"no run of execution {execution!r} in {args.prefix}.telemetry "
            "(check the id and --prefix; `agentfold runs list` lists them)"
        )
    return latest


def run_analyze(args: argparse.Namespace) -> int:
    from schemas.canonical import canonical_json
    from streams.views.analysis import analyze_failure

    run = _latest_run(args, args.execution)
    analysis = analyze_failure(run)
    if args.json:
        value = None if analysis is None else analysis.to_dict()
        sys.stdout.buffer.write(canonical_json(value) + b"\n")
    elif analysis is None:
        print(f"run {args.execution} is {run['status']}: only failed runs are analysed")
    else:
        print(analysis.text())
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from schemas.canonical import canonical_json
    from streams.views.analysis import compare_runs

    compared = compare_runs(_latest_run(args, args.first), _latest_run(args, args.second))
    if args.json:
        sys.stdout.buffer.write(canonical_json(compared) + b"\n")
        return 0
    for key in ("run_1", "run_2"):
        side = compared[key]
        print(
            f"{side['id']}: {side['status']}, {side['decisions']} decisions, "
            f"success rate {side['success_rate']:.1%}"
        )
    differences = compared["differences"]
    print("Differences:" if differences else "No differences found.")
    for difference in differences:
        print(f"  - {difference}")
    return 0
