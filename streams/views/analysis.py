"""hive's BuilderQuery over the runs topic (SEEDS-GOALS §4): why a run failed, how two
runs differ, what recurs across a goal's runs, what to change.

Everything here reads run records (the `runs` topic's values, from a replay or the
topic itself) and nothing else: the fold keeps the decision-level facts these need in
each run's `summary` and `analysis` (processors/summary.py). Pure functions; the same
records give the same answers in any order they are read. Deliberate differences from
upstream are listed in docs/analysis.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

Run = Mapping[str, Any]  # one run record's value

UNKNOWN_ERROR = "Unknown error"
NODE_RATE_SHOWN = 0.1  # problematic nodes: failure rate above this (B6)
NODE_RATE_HIGH = 0.3  # node_improvement priority high above this (B8)
FAILURES_SHOWN = 5  # common failures kept (B6, B8)
ERROR_COUNT_SUGGESTED = 2  # error_handling suggested from this many occurrences (B8)
ERROR_COUNT_HIGH = 5  # error_handling priority high from this many (B8)
GOAL_RATE_LOW = 0.8  # architecture suggestion below this goal success rate (B8)
INTENT_KEY = 50  # common_choices groups on the intent's first 50 characters (B6)


def line(ok: bool, node_id: str, intent: str, chosen: str) -> str:
    """hive's decision summary line (R6)."""
    mark = "\u2713" if ok else "\u2717"
    return f"{mark} [{node_id}] {intent} \u2192 {chosen.strip() or 'unknown action'}"


def percent(x: float) -> str:
    """Python's `{:.1%}`, as hive prints rates (B11)."""
    return f"{x:.1%}"


def run_order(runs: Iterable[Run]) -> list[Run]:
    """Runs in the order a goal's analyses read them: by start time, then execution id
    (hive used its index's first-save order, which depends on who saved first)."""
    return sorted(runs, key=lambda r: (r["started_at"], r["execution_id"]))


def latest_runs(records: Iterable[Run]) -> dict[str, Run]:
    """The last run record of each execution (a run's records are snapshots)."""
    latest: dict[str, Run] = {}
    for value in records:
        latest[value["execution_id"]] = value
    return latest


# ─── one run ─────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class FailureAnalysis:
    """BuilderQuery.analyze_failure (B4)."""

    run_id: str
    failure_point: str
    root_cause: str
    decision_chain: list[str]
    problems: list[str]
    suggestions: list[str]
    decisions_not_kept: int = 0  # decisions before the failure that the run did not keep

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        lines = [
            f"=== Failure Analysis for {self.run_id} ===",
            "",
            f"Failure Point: {self.failure_point}",
            f"Root Cause: {self.root_cause}",
            "",
            "Decision Chain Leading to Failure:",
        ]
        lines += [f"  {i}. {step}" for i, step in enumerate(self.decision_chain, start=1)]
        if self.decisions_not_kept:
            lines.append(f"  … ({self.decisions_not_kept} more decisions before it, not kept)")
        if self.problems:
            lines += ["", "Reported Problems:"] + [f"  - {p}" for p in self.problems]
        if self.suggestions:
            lines += ["", "Suggestions:"] + [f"  \u2192 {s}" for s in self.suggestions]
        return "\n".join(lines)


def analyze_failure(run: Run) -> FailureAnalysis | None:
    """Why a failed run failed; None unless its status is `failed` (B4)."""
    if run.get("status") != "failed":
        return None
    analysis = run["analysis"]
    failing = analysis["unsuccessful"]
    decisions = analysis["decisions"]
    not_kept = 0
    if not failing:
        failure_point = "Unknown - no decision marked as failed"
        root_cause = "Run failed but all decisions succeeded (external cause?)"
        chain = [_decision_line(d) for d in decisions]
    else:
        first = failing[0]
        failure_point = line(False, first["node_id"], first["intent"], first["chosen"])
        # hive printed "None" for a failure without an error text (SEEDS-GOALS §5.14).
        root_cause = first["error"] or "Unknown"
        upto = first["index"]
        chain = [_decision_line(d) for d in decisions if d["index"] < upto]
        not_kept = upto - len(chain)
        chain.append(failure_point)
    problems = [f"[{p['severity']}] {p['description']}" for p in run["problems"]]
    return FailureAnalysis(
        run_id=run["execution_id"],
        failure_point=failure_point,
        root_cause=root_cause,
        decision_chain=chain,
        problems=problems,
        suggestions=failure_suggestions(run),
        decisions_not_kept=not_kept,
    )


def _decision_line(d: Mapping[str, Any]) -> str:
    return line(d["status"] == "succeeded", d["node_id"], d["intent"], d["chosen"])


def failure_suggestions(run: Run) -> list[str]:
    """B9: per unsuccessful decision, in order, then each problem's suggested fix."""
    out: list[str] = []
    for d in run["analysis"]["unsuccessful"]:
        if d["alternative"] is not None:
            chosen = d["chosen"].strip() or "unknown"
            out.append(f"Consider alternative: '{d['alternative']}' instead of '{chosen}'")
        if d["context_empty"]:
            out.append(
                f"Decision '{d['intent']}' had no input context - ensure relevant data is passed"
            )
        if d["active_constraints"]:
            joined = ", ".join(d["active_constraints"])
            out.append(f"Review constraints: {joined} - may be too restrictive")
    out += [p["suggested_fix"] for p in run["problems"] if p.get("suggested_fix")]
    return out


def decision_trace(run: Run) -> list[str]:
    """B5: the summary line of each decision the run kept."""
    return [_decision_line(d) for d in run["analysis"]["decisions"]]


def compare_runs(a: Run | None, b: Run | None) -> dict[str, Any]:
    """BuilderQuery.compare_runs (B7)."""
    if a is None or b is None:
        return {"error": "One or both runs not found"}

    def side(run: Run) -> dict[str, Any]:
        m = run["metrics"]
        return {
            "id": run["execution_id"],
            "status": run["status"],
            "decisions": m["total_decisions"],
            "success_rate": m["success_rate"],
        }

    one, two = side(a), side(b)
    differences = []
    if one["status"] != two["status"]:
        differences.append(f"Status: {one['status']} vs {two['status']}")
    if one["decisions"] != two["decisions"]:
        differences.append(f"Decision count: {one['decisions']} vs {two['decisions']}")
    for x, y in zip(a["analysis"]["decisions"], b["analysis"]["decisions"], strict=False):
        if x["chosen_option_id"] != y["chosen_option_id"]:
            differences.append(
                f"Diverged at decision {x['index']}: chose "
                f"'{x['chosen_option_id']}' vs '{y['chosen_option_id']}'"
            )
            break
    nodes_a = set(a["metrics"]["nodes_executed"])
    nodes_b = set(b["metrics"]["nodes_executed"])
    if nodes_a - nodes_b:
        differences.append(f"Nodes only in run 1: {_set_text(nodes_a - nodes_b)}")
    if nodes_b - nodes_a:
        differences.append(f"Nodes only in run 2: {_set_text(nodes_b - nodes_a)}")
    return {"run_1": one, "run_2": two, "differences": differences}


def _set_text(items: set[str]) -> str:
    """A Python set literal, sorted (hive's order was unspecified, SEEDS-GOALS §5.18)."""
    return "{" + ", ".join(repr(x) for x in sorted(items)) + "}"


# ─── a goal's runs ────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Patterns:
    """BuilderQuery.find_patterns (B6)."""

    goal_id: str
    run_count: int
    success_rate: float
    common_failures: list[tuple[str, int]]
    problematic_nodes: list[tuple[str, float]]
    decision_patterns: dict[str, Any]
    node_performance: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["common_failures"] = [list(x) for x in self.common_failures]
        d["problematic_nodes"] = [list(x) for x in self.problematic_nodes]
        return d

    def text(self) -> str:
        lines = [
            f"=== Pattern Analysis for Goal {self.goal_id} ===",
            "",
            f"Runs Analyzed: {self.run_count}",
            f"Success Rate: {percent(self.success_rate)}",
        ]
        if self.common_failures:
            lines += ["", "Common Failures:"]
            lines += [f"  - {error} ({n} occurrences)" for error, n in self.common_failures]
        if self.problematic_nodes:
            lines += ["", "Problematic Nodes (failure rate):"]
            lines += [
                f"  - {node}: {percent(rate)} failure rate" for node, rate in self.problematic_nodes
            ]
        return "\n".join(lines)


def find_patterns(goal_id: str, runs: Iterable[Run]) -> Patterns | None:
    """What recurs across a goal's runs; None when it has none (B6)."""
    mine = run_order(r for r in runs if r.get("goal_id") == goal_id)
    if not mine:
        return None
    completed = sum(1 for r in mine if r["status"] == "completed")
    errors: dict[str, int] = {}
    nodes: dict[str, list[int]] = {}  # node -> [decisions, succeeded, latency, tokens]
    types: dict[str, int] = {}
    choices: dict[str, dict[str, int]] = {}
    for run in mine:
        analysis = run["analysis"]
        for error, n in analysis["errors"].items():
            key = error or UNKNOWN_ERROR
            errors[key] = errors.get(key, 0) + n
        for node, s in analysis["nodes"].items():
            acc = nodes.setdefault(node, [0, 0, 0, 0])
            acc[0] += s["decisions"]
            acc[1] += s["succeeded"]
            acc[2] += s["latency_ms"]
            acc[3] += s["tokens"]
        for kind, n in analysis["decision_types"].items():
            types[kind] = types.get(kind, 0) + n
        for intent, chosen in analysis["choices"].items():
            mine_choices = choices.setdefault(intent[:INTENT_KEY], {})
            for description, n in chosen.items():
                mine_choices[description] = mine_choices.get(description, 0) + n
    # sorted() is stable: ties keep the order first met (runs by start time).
    common = sorted(errors.items(), key=lambda kv: -kv[1])[:FAILURES_SHOWN]
    rates = [(node, (s[0] - s[1]) / s[0]) for node, s in nodes.items() if s[0]]
    problematic = sorted(
        [(node, rate) for node, rate in rates if rate > NODE_RATE_SHOWN], key=lambda x: -x[1]
    )
    common_choices = {}
    for intent, counts in choices.items():
        best = max(counts.items(), key=lambda kv: kv[1])  # first of the most chosen
        common_choices[intent] = {
            "choice": best[0],
            "count": best[1],
            "alternatives": len(counts) - 1,
        }
    performance = {
        node: {
            "total_decisions": s[0],
            "success_rate": s[1] / s[0] if s[0] else 0.0,
            "avg_latency_ms": s[2] / s[0] if s[0] else 0.0,
            "total_tokens": s[3],
        }
        for node, s in nodes.items()
    }
    return Patterns(
        goal_id=goal_id,
        run_count=len(mine),
        success_rate=completed / len(mine),
        common_failures=common,
        problematic_nodes=problematic,
        decision_patterns={
            "decision_type_distribution": types,
            "common_choices": common_choices,
        },
        node_performance=performance,
    )


def suggest_improvements(goal_id: str, runs: Iterable[Run]) -> list[dict[str, str]]:
    """BuilderQuery.suggest_improvements (B8)."""
    patterns = find_patterns(goal_id, runs)
    if patterns is None:
        return []
    out: list[dict[str, str]] = []
    for node, rate in patterns.problematic_nodes:
        out.append(
            {
                "type": "node_improvement",
                "target": node,
                "reason": f"Node has {percent(rate)} failure rate",
                "recommendation": f"Review and improve node '{node}' - high failure rate "
                "suggests prompt or tool issues",
                "priority": "high" if rate > NODE_RATE_HIGH else "medium",
            }
        )
    for error, n in patterns.common_failures:
        if n >= ERROR_COUNT_SUGGESTED:
            out.append(
                {
                    "type": "error_handling",
                    "target": error,
                    "reason": f"Error occurred {n} times",
                    "recommendation": f"Add handling for: {error}",
                    "priority": "high" if n >= ERROR_COUNT_HIGH else "medium",
                }
            )
    if patterns.success_rate < GOAL_RATE_LOW:
        out.append(
            {
                "type": "architecture",
                "target": goal_id,
                "reason": f"Goal success rate is only {percent(patterns.success_rate)}",
                "recommendation": "Consider restructuring the agent graph or improving goal "
                "definition",
                "priority": "high",
            }
        )
    return out


def recent_failures(runs: Iterable[Run], limit: int = 10) -> list[Run]:
    """The `limit` most recent failed runs, newest first (hive returned the oldest,
    SEEDS-GOALS §5.16)."""
    failed = [r for r in runs if r["status"] == "failed"]
    return list(reversed(run_order(failed)))[:limit]


# ─── one action ───────────────────────────────────────────────────────────────────────


def action_text(chain: Run) -> str:
    """An attribution chain for a person: the seed's get_action, with its credits."""
    import orjson

    c = chain
    lines = [
        f"action {c['action_id']} ({c['action_type']}) of execution {c['execution_id']}, "
        f"agent {c['agent_id']}" + (f", goal {c['goal_id']}" if c.get("goal_id") else ""),
    ]
    if c.get("parent_action_id"):
        lines.append(f"  parent action {c['parent_action_id']}")
    lines += [
        f"  started {c['started_at']}, ended {c['completed_at']} "
        f"({c['duration_seconds']:g} s), closed by {c['closed_by']}",
        f"  outcome {orjson.dumps(c['outcome'], option=orjson.OPT_SORT_KEYS).decode()}",
        f"  success score {c['success_score']:.3f} · {c['step_count']} steps, "
        f"{c['observation_count']} observations",
    ]
    if c["acceptance_criteria"]:
        lines.append("  acceptance criteria: " + "; ".join(c["acceptance_criteria"]))
    if c["steps_summary"]:
        lines.append("  steps (credit):")
        for s in c["steps_summary"]:
            decision = f" → {s['decision']}" if s["decision"] else ""
            lines.append(
                f"    {s['index']}. {s['desc'] or '(no description)'}{decision} "
                f"(confidence {s['confidence']:.2f}) credit {s['credit']:.3f}"
            )
        shown = len(c["steps_summary"])
        if c["step_count"] > shown:
            lines.append(f"    … {c['step_count'] - shown} earlier steps not kept")
    if c["observations"]:
        lines.append("  observations:")
        for o in c["observations"]:
            data = orjson.dumps(o["data"], option=orjson.OPT_SORT_KEYS).decode()
            lines.append(f"    - {o['time']} {o['observation_type']} from {o['source']}: {data}")
    if c.get("summary"):
        lines.append(f"  summary: {c['summary']}")
    return "\n".join(lines)
