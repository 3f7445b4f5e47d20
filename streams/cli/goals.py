"""`agentfold goals list|patterns|suggest`: what a goal's runs have in common, rebuilt
from the log (hive's BuilderQuery over a goal: docs/analysis.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.errors import InputError
from streams.cli.common import (
    add_broker_flags,
    add_config_flags,
    fold_config,
    need_broker,
    telemetry_topic,
)

if TYPE_CHECKING:
    from streams.cli.common import Subparsers
    from streams.views.analysis import Run


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "goals",
        help="define goals; show their progress, failure patterns and suggested improvements",
        description="`goals define FILE` writes goal definitions (success criteria, "
        "constraints) into the telemetry log, where every partition's fold scores the "
        "goal's decisions (docs/goals.md). The others replay the log: `goals show GOAL` "
        "prints a goal's progress and recommendation, `goals list` every goal, `goals "
        "patterns GOAL` the failures and nodes that recur across its runs, `goals suggest "
        "GOAL` what to change (docs/analysis.md).",
    )
    actions = p.add_subparsers(dest="goals_action", metavar="ACTION", required=True)
    define = actions.add_parser(
        "define", help="write goal definitions (TOML or JSON) into the telemetry log"
    )
    define.add_argument("file", metavar="FILE", type=Path, help="goals file (.toml or .json)")
    add_broker_flags(define)
    define.set_defaults(run=run_define)
    show = actions.add_parser("show", help="a goal's progress, criteria, violations, runs")
    show.add_argument("goal", metavar="GOAL", help="the goal id")
    listing = actions.add_parser("list", help="every goal: runs, completed, failed, running")
    patterns = actions.add_parser(
        "patterns", help="common failures, problematic nodes, node performance of a goal"
    )
    suggest = actions.add_parser("suggest", help="improvements suggested for a goal's agent")
    for q in (patterns, suggest):
        q.add_argument("goal", metavar="GOAL", help="the goal id")
    for q in (show, listing, patterns, suggest):
        add_broker_flags(q)
        q.add_argument(
            "--jobs", type=int, metavar="N", help="replay processes (as `agentfold replay --jobs`)"
        )
        q.add_argument("--json", action="store_true", help="JSON instead of text")
        add_config_flags(q)
    show.set_defaults(run=run_show)
    listing.set_defaults(run=run_list)
    patterns.set_defaults(run=run_patterns)
    suggest.set_defaults(run=run_suggest)


def _replayed(args: argparse.Namespace, topic: str) -> list[dict[str, Any]]:
    """The values a replay of the whole log writes to one output topic, in order."""
    from streams.replay import ReplayRequest, replay

    request = ReplayRequest(need_broker(args), args.prefix, jobs=args.jobs)
    with replay(request, fold_config(args)) as result:
        return [r.value for _, r in result.records() if r.topic == topic]


def _runs(args: argparse.Namespace) -> list[Run]:
    """The last run record of every execution in the log."""
    from schemas.outputs import RUNS
    from streams.views.analysis import latest_runs

    return list(latest_runs(_replayed(args, RUNS)).values())


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


def load_goals(path: Path) -> list[dict[str, Any]]:
    """Goal definitions from a TOML or JSON file: `[[goals]]` tables (or one goal at the
    top level), each with `id`, `version`, `name` and optionally `description`,
    `success_criteria` and `constraints`; validated as goal_defined data."""
    from pydantic import ValidationError

    from schemas.events import GoalDefinedData
    from streams.config import read_config_file

    doc = read_config_file(path)  # ConfigError says what is wrong with the file
    goals = doc.get("goals", [doc])
    if not isinstance(goals, list) or not goals:
        raise InputError(f"{path}: no goals (expected [[goals]] tables, or one goal)")
    out = []
    for i, goal in enumerate(goals):
        fields = dict(goal)
        if "id" in fields:
            fields["goal_id"] = fields.pop("id")
        try:
            data = GoalDefinedData.model_validate(fields)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'goal'}: {e['msg']}" for e in exc.errors()
            )
            raise InputError(f"{path}: goal {i + 1}: {problems}") from None
        out.append(data.model_dump(mode="json", exclude={"partition"}))
    return out


def run_define(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from schemas.canonical import canonical_json
    from schemas.envelope import goal_defined
    from streams.kafka import produce_lines

    goals = load_goals(args.file)
    broker = need_broker(args)
    topic, partitions = telemetry_topic(broker, args.prefix)
    now_ms = int(time.time() * 1000)
    lines = [canonical_json(goal_defined(g, now_ms)) for g in goals]
    asyncio.run(produce_lines(broker, topic, lines, partitions))
    for g in goals:
        print(
            f"defined goal {g['goal_id']} version {g['version']} ({len(g['success_criteria'])} "
            f"criteria, {len(g['constraints'])} constraints) in {topic}, all {partitions} "
            "partitions"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    from schemas.canonical import canonical_json
    from schemas.outputs import GOAL_FACTS
    from streams.views.goals import goal_progress, goal_text

    progress = goal_progress(_replayed(args, GOAL_FACTS))
    record = progress.get(args.goal)
    if record is None:
        defined = ", ".join(map(repr, sorted(progress))) or "none"
        raise InputError(
            f"goal {args.goal!r} has no definition in {args.prefix}.telemetry (defined: "
            f"{defined}; `agentfold goals define FILE` adds one)"
        )
    if args.json:
        sys.stdout.buffer.write(canonical_json(record) + b"\n")
    else:
        print(goal_text(record))
    return 0
