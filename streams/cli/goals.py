"""`agentfold goals list|patterns|suggest`: what a goal's runs have in common, rebuilt
from the log (hive's BuilderQuery over a goal: docs/analysis.md)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from schemas.errors import InputError
from streams.cli.common import add_broker_flags, add_config_flags, fold_config, need_broker

if TYPE_CHECKING:
    from streams.cli.common import Subparsers
    from streams.views.analysis import Run


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "goals",
        help="list goals, and the failure patterns and suggested improvements of one",
        description="Replays the log and reads every run's summary and analysis: `goals "
        "list` lists the goals runs were started for, `goals patterns GOAL` finds the "
        "failures and nodes that recur across a goal's runs, `goals suggest GOAL` says what "
        "to change (docs/analysis.md).",
    )
    actions = p.add_subparsers(dest="goals_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every goal: runs, completed, failed, running")
    patterns = actions.add_parser(
        "patterns", help="common failures, problematic nodes, node performance of a goal"
    )
    suggest = actions.add_parser("suggest", help="improvements suggested for a goal's agent")
    for q in (patterns, suggest):
        q.add_argument("goal", metavar="GOAL", help="the goal id")
    for q in (listing, patterns, suggest):
        add_broker_flags(q)
        q.add_argument(
            "--jobs", type=int, metavar="N", help="replay processes (as `agentfold replay --jobs`)"
        )
        q.add_argument("--json", action="store_true", help="JSON instead of text")
        add_config_flags(q)
    listing.set_defaults(run=run_list)
    patterns.set_defaults(run=run_patterns)
    suggest.set_defaults(run=run_suggest)


def _runs(args: argparse.Namespace) -> list[Run]:
    """The last run record of every execution in the log."""
    from schemas.outputs import RUNS
    from streams.replay import ReplayRequest, replay
    from streams.views.analysis import latest_runs

    request = ReplayRequest(need_broker(args), args.prefix, jobs=args.jobs)
    with replay(request, fold_config(args)) as result:
        values = [r.value for _, r in result.records() if r.topic == RUNS]
    return list(latest_runs(values).values())


def _goal_runs(args: argparse.Namespace) -> list[Run]:
    runs = _runs(args)
    if not any(r["goal_id"] == args.goal for r in runs):
        known = sorted({r["goal_id"] for r in runs})
        raise InputError(
            f"no run of goal {args.goal!r} in {args.prefix}.telemetry "
            f"(goals with runs: {', '.join(map(repr, known)) or 'none'})"
        )
    return runs


def goal_rows(runs: list[Run]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for run in runs:
        row = rows.setdefault(
            run["goal_id"],
            {"goal_id": run["goal_id"], "runs": 0, "completed": 0, "failed": 0, "open": 0},
        )
        row["runs"] += 1
        status = run["status"]
        if status == "completed":
            row["completed"] += 1
        elif status == "running":
            row["open"] += 1
        else:
            row["failed"] += 1  # failed, timed out, stuck, cancelled: not a success
    return [rows[g] for g in sorted(rows)]


def run_list(args: argparse.Namespace) -> int:
    from schemas.canonical import canonical_json

    rows = goal_rows(_runs(args))
    if args.json:
        for row in rows:
            sys.stdout.buffer.write(canonical_json(row) + b"\n")
        return 0
    print(f"{'GOAL':<32} {'RUNS':>6} {'COMPLETED':>9} {'UNSUCCESSFUL':>12} {'OPEN':>6}")
    for row in rows:
        goal = row["goal_id"] or "(none)"
        print(
            f"{goal:<32} {row['runs']:>6} {row['completed']:>9} {row['failed']:>12} "
            f"{row['open']:>6}"
        )
    return 0


def run_patterns(args: argparse.Namespace) -> int:
    from schemas.canonical import canonical_json
    from streams.views.analysis import find_patterns, percent

    patterns = find_patterns(args.goal, _goal_runs(args))
    assert patterns is not None  # _goal_runs found runs of it
    if args.json:
        sys.stdout.buffer.write(canonical_json(patterns.to_dict()) + b"\n")
        return 0
    print(patterns.text())
    print("")
    print("Node Performance:")
    for node, perf in patterns.node_performance.items():
        print(
            f"  - {node}: {perf['total_decisions']} decisions, "
            f"{percent(perf['success_rate'])} succeeded, "
            f"{perf['avg_latency_ms']:.1f} ms average latency, {perf['total_tokens']} tokens"
        )
    return 0


def run_suggest(args: argparse.Namespace) -> int:
    from schemas.canonical import canonical_json
    from streams.views.analysis import suggest_improvements

    suggestions = suggest_improvements(args.goal, _goal_runs(args))
    if args.json:
        sys.stdout.buffer.write(canonical_json(suggestions) + b"\n")
        return 0
    if not suggestions:
        print(f"no suggestions for goal {args.goal}: no node or error stands out")
    for s in suggestions:
        print(f"[{s['priority']}] {s['type']} ({s['target']}): {s['reason']}")
        print(f"    → {s['recommendation']}")
    return 0
