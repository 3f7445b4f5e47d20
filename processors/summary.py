"""hive's RunSummary and the decision-level facts its Builder analyses read (SEEDS-GOALS
§3, §4), kept bounded in a run's state and emitted on the runs topic.

Per decision the fold keeps, while it waits for the outcome, what a failure analysis
needs (`DecisionFacts`); and for the run: its first `summary_decisions_kept` decisions
(the decision chain and where two runs diverge), its first unsuccessful ones with their
error and what a suggestion needs, its first successes' summaries, per-node counts and
the counts of errors, decision types and choices that goal patterns add up. Every list
and map has a cap, so a run's state does not grow with its length; where a cap cut
something, the analysis says so (`*_total` beside a kept list).

hive's DecisionEvaluation is never produced (SEEDS-GOALS §5.22): a decision is "good"
when its outcome succeeded, and key decisions are the unsuccessful ones.
"""

from __future__ import annotations

from typing import Any, Final

from processors.bounds import TEXT_BYTES, cap_text
from processors.limits import Limits
from processors.state import DecisionFacts, RunState
from schemas.records import DecisionData, OutcomeData

KEY_DECISIONS: Final = 5  # RunSummary.key_decisions (R11)
SUCCESSES: Final = 3  # RunSummary.successes (R13)
INTENT_KEY: Final = 50  # common_choices groups on the intent's first 50 characters (B6)
PENDING: Final = 0
SUCCEEDED: Final = 1
FAILED: Final = 2
UNKNOWN_ACTION: Final = "unknown action"


def decision_facts(data: DecisionData, cfg: Limits) -> tuple[DecisionFacts, int]:
    """What a decision's analysis needs, capped; and the bytes it adds to the state."""
    text_max = cfg.summary_text_max
    chosen_desc = ""
    alternative: str | None = None
    options = data.options
    if options:
        chosen = data.chosen_option_id
        for option in options:
            if option.id == chosen:
                if not chosen_desc:
                    chosen_desc = cap_text(option.description, text_max) or " "
            elif alternative is None and len(options) > 1:
                alternative = cap_text(option.description, text_max)
    size = len(chosen_desc) + (len(alternative) if alternative is not None else 0)
    constraints: tuple[str, ...] = ()
    if data.active_constraints:
        kept = [
            cap_text(c, text_max) for c in data.active_constraints[: cfg.summary_constraints_kept]
        ]
        size += sum(len(text) + 4 for text in kept)
        constraints = tuple(kept)
    facts = DecisionFacts(
        chosen_desc=chosen_desc,
        alternative=alternative,
        context_empty=not data.input_context,
        constraints=constraints,
        # `_value_`, a plain attribute: `.value` is a Python-level descriptor call.
        decision_type=str(data.decision_type._value_),
    )
    return facts, TEXT_BYTES * size + 48


def facts_size(facts: DecisionFacts) -> int:
    """About the bytes `facts` take in the state's encoding."""
    size = len(facts.chosen_desc) + len(facts.decision_type) + 24
    if facts.alternative is not None:
        size += len(facts.alternative)
    for c in facts.constraints:
        size += len(c) + 3
    return size


def line(ok: bool, node_id: str, intent: str, chosen_desc: str) -> str:
    """hive's decision summary line (R6): ✓/✗ [node] intent → chosen option."""
    mark = "\u2713" if ok else "\u2717"
    return f"{mark} [{node_id}] {intent} \u2192 {chosen_desc.strip() or UNKNOWN_ACTION}"


def on_decision(
    run: RunState,
    index: int,
    node_id: str,
    intent: str,
    chosen_id: str,
    facts: DecisionFacts,
    cfg: Limits,
) -> int:
    """Count a new decision; the bytes it adds to the state."""
    added = 0
    if index < cfg.summary_decisions_kept:
        cap = cfg.summary_text_max
        node, text, chosen = cap_text(node_id, cap), cap_text(intent, cap), cap_text(chosen_id, cap)
        run.early.append((index, node, text, facts.chosen_desc, PENDING, chosen))
        added += TEXT_BYTES * (len(node) + len(text) + len(chosen)) + 24
    types = run.decision_types
    types[facts.decision_type] = types.get(facts.decision_type, 0) + 1
    stats = run.node_stats.get(node_id)
    if stats is None and len(run.node_stats) < cfg.nodes_cap:
        stats = run.node_stats[node_id] = [0, 0, 0, 0]
        added += 40
    if stats is not None:
        stats[0] += 1
    if facts.chosen_desc:
        key = intent[:INTENT_KEY]
        choices = run.choices.get(key)
        if choices is None and len(run.choices) < cfg.summary_keys_cap:
            choices = run.choices[key] = {}
            added += TEXT_BYTES * len(key) + 8
        if choices is not None and (
            facts.chosen_desc in choices or len(choices) < cfg.summary_keys_cap
        ):
            if facts.chosen_desc not in choices:
                added += TEXT_BYTES * len(facts.chosen_desc) + 8
            choices[facts.chosen_desc] = choices.get(facts.chosen_desc, 0) + 1
    return added


def on_outcome(
    run: RunState,
    index: int,
    node_id: str,
    intent: str,
    facts: DecisionFacts,
    data: OutcomeData,
    cfg: Limits,
) -> int:
    """A decision's outcome arrived; the bytes it adds to the state."""
    added = 0
    ok = data.success
    if index < cfg.summary_decisions_kept:
        early = run.early
        for i, (at, node, text, chosen_desc, _, chosen) in enumerate(early):
            if at == index:
                early[i] = (at, node, text, chosen_desc, SUCCEEDED if ok else FAILED, chosen)
                break
    stats = run.node_stats.get(node_id)
    if stats is not None:
        if ok:
            stats[1] += 1
        stats[2] = min(stats[2] + data.latency_ms, 2**63 - 1)
        stats[3] = min(stats[3] + data.tokens_used, 2**63 - 1)
    if ok:
        summary = data.summary
        if summary and (len(run.successes) < SUCCESSES or index < run.successes[-1][0]):
            text = cap_text(summary, cfg.summary_text_max)
            run.successes.append([index, text])
            run.successes.sort()
            del run.successes[SUCCESSES:]
            added += TEXT_BYTES * len(text) + 16
        return added
    # common_failures counts decisions with an outcome that failed, keyed by the error.
    error = cap_text(data.error, cfg.summary_text_max) if data.error else ""
    errors = run.errors
    if error in errors or len(errors) < cfg.summary_keys_cap:
        if error not in errors:
            added += TEXT_BYTES * len(error) + 8
        errors[error] = errors.get(error, 0) + 1
    added += note_unsuccessful(run, index, node_id, intent, facts, error, True, cfg)
    return added


def note_unsuccessful(
    run: RunState,
    index: int,
    node_id: str,
    intent: str,
    facts: DecisionFacts,
    error: str,
    has_outcome: bool,
    cfg: Limits,
) -> int:
    """Keep the first `summary_decisions_kept` unsuccessful decisions (by index) in full:
    key decisions, the failure point and the suggestions come from them."""
    kept = run.failures
    if len(kept) >= cfg.summary_decisions_kept and index > kept[-1][0]:
        return 0
    cap = cfg.summary_text_max
    kept.append([index, cap_text(node_id, cap), cap_text(intent, cap), facts, error, has_outcome])
    kept.sort(key=lambda entry: entry[0])
    del kept[cfg.summary_decisions_kept :]
    return TEXT_BYTES * (len(node_id) + len(intent) + len(error)) + 96


def shed(run: RunState) -> int:
    """Drop the run's analysis facts (the state budget's last resort before it evicts
    open actions); the bytes they took, about. Counts and the summary's lists that
    the narrative needs stay."""
    size = 0
    for entry in run.early:
        size += len(entry[1]) + len(entry[2]) + len(entry[3]) + len(entry[5]) + 24
    for failure in run.failures:
        size += len(failure[1]) + len(failure[2]) + len(failure[4]) + facts_size(failure[3]) + 24
    for key, choices in run.choices.items():
        size += len(key) + 8 + sum(len(d) + 8 for d in choices)
    size += sum(len(e) + 8 for e in run.errors)
    run.early = []
    run.failures = []
    run.choices = {}
    run.errors = {}
    return size


def unsuccessful(run: RunState, cfg: Limits) -> list[list[Any]]:
    """The first unsuccessful decisions by index: those that failed, and those still
    without an outcome (hive counts a pending decision as not successful, R3)."""
    merged: list[list[Any]] = list(run.failures)
    for index, node_id, intent, _chosen, facts in run.pending.values():
        merged.append([index, node_id, intent, facts, "", False])
    merged.sort(key=lambda entry: entry[0])
    return merged[: cfg.summary_decisions_kept]


def summary(run: RunState, cfg: Limits) -> dict[str, Any]:
    """hive's RunSummary (R10–R13) beside the run's own fields."""
    failing = unsuccessful(run, cfg)
    total = run.total_decisions
    return {
        "decision_count": total,
        "success_rate": run.successful / total if total else 0.0,
        "problem_count": run.problem_count,
        "key_decisions": [
            line(False, e[1], e[2], e[3].chosen_desc) for e in failing[:KEY_DECISIONS]
        ],
        "critical_problems": list(run.critical),
        "warnings": list(run.warnings),
        "successes": [text for _, text in run.successes],
    }


def analysis(run: RunState, cfg: Limits) -> dict[str, Any]:
    """The decision-level facts the analyst commands read (streams/views/analysis.py):
    the first decisions, the first unsuccessful ones, per-node counts, and the counts
    goal patterns add up over runs."""
    decisions = [
        {
            "index": index,
            "node_id": node_id,
            "intent": intent,
            "chosen": chosen_desc,
            "chosen_option_id": chosen_id,
            "status": ("pending", "succeeded", "failed")[state],
        }
        for index, node_id, intent, chosen_desc, state, chosen_id in run.early
    ]
    failures = []
    for index, node_id, intent, facts, error, has_outcome in unsuccessful(run, cfg):
        failures.append(
            {
                "index": index,
                "node_id": node_id,
                "intent": intent,
                "chosen": facts.chosen_desc,
                "outcome": "failed" if has_outcome else "pending",
                "error": error if has_outcome else None,
                "alternative": facts.alternative,
                "context_empty": facts.context_empty,
                "active_constraints": list(facts.constraints),
            }
        )
    return {
        "decisions": decisions,
        "unsuccessful": failures,
        "unsuccessful_total": run.total_decisions - run.successful,
        "nodes": {
            node: {"decisions": s[0], "succeeded": s[1], "latency_ms": s[2], "tokens": s[3]}
            for node, s in run.node_stats.items()
        },
        "errors": dict(run.errors),
        "decision_types": dict(sorted(run.decision_types.items())),
        "choices": {intent: dict(c) for intent, c in run.choices.items()},
    }
