"""The per-execution state budget: an execution's encoded state stays near
`state_max_bytes`, so its changelog record — its value and the value it replaces —
always fits a Kafka record, whatever an agent sends.

Measuring means encoding the state, too dear for every event. So the fold keeps
`ExecState.unmeasured`, an over-estimate of the bytes added since the last
measurement (each handler adds what it stored — payloads by their encoded size, text
at 4 bytes a character — and `PartitionFold.apply` a constant per event), and
measures only when `size + unmeasured` passes the budget. Both numbers
are part of the state: the events at which the fold measures, and sheds, are the same
in every run over the same log, restarts and replays included.

Shedding goes on until the state is at 3/4 of the budget, cheapest loss first:
1. the step and observation summaries of open actions, oldest action first (counts
   and credits stay exact; the chain shows the summaries kept after the drop);
2. the run's analysis facts (processors/summary.py: its first decisions, first
   unsuccessful ones, errors and choices; the counts and the narrative stay);
3. open actions, oldest first, closed as `{status: evicted, reason: state_bytes}`
   with their attribution chain, as at max_open_actions;
4. decisions waiting for their outcome, oldest first (they count as unsuccessful,
   as at pending_decisions_cap);
5. the kept problems, oldest first (problem_count stays);
6. the remembered ids of events without `seq` (their de-duplication), oldest first.
Each drop is counted in the run's `shed`. What remains is bounded by the per-item
caps (text_max, payload_max_bytes, nodes_cap, …).
"""

from __future__ import annotations

from typing import Final

from processors import attribution, runs, summary
from processors.bounds import json_size
from processors.limits import Limits
from processors.state import ExecState, PartitionState
from processors.state_json import action_to_json, exec_to_json
from schemas.outputs import OutputRecord

EVENT_BYTES: Final = 64  # what any event may add besides its own text: counters, timers, keys
EVICTED_OUTCOME = {"status": "evicted", "reason": "state_bytes"}


def measure(ex: ExecState) -> int:
    return json_size(exec_to_json(ex))


def enforce(ps: PartitionState, ex: ExecState, cfg: Limits, out: list[OutputRecord]) -> None:
    """Measure the execution's state; shed if it is over the budget."""
    size = measure(ex)
    if size > cfg.state_max_bytes:
        _shed(ps, ex, size, cfg.state_max_bytes * 3 // 4, cfg, out)
        size = measure(ex)
    ex.size = size
    ex.unmeasured = 0


def _shed(
    ps: PartitionState,
    ex: ExecState,
    size: int,
    target: int,
    cfg: Limits,
    out: list[OutputRecord],
) -> None:
    # Sizes below are those of the dropped parts' encodings: close to what the state's
    # encoding loses (enforce measures again afterwards anyway).
    run = ex.run
    by_age = sorted(ex.actions.values(), key=lambda a: (a.started_ms, a.action_id))
    for action in by_age:
        if size <= target:
            return
        if action.steps or action.observations:
            size -= json_size(action.steps) + json_size(action.observations) - 4
            action.steps = []
            action.observations = []
            _count(run.shed, "summaries")
    if size > target and (run.early or run.failures or run.choices or run.errors):
        size -= summary.shed(run)
        _count(run.shed, "analysis")
    for action in by_age:
        if size <= target:
            return
        size -= json_size(action_to_json(action)) + 3 * len(action.action_id) + 32
        now = max(ps.meta.stream_ms, action.started_ms)
        outcome = dict(EVICTED_OUTCOME)
        out.append(attribution.close_action(ps, ex, action.action_id, outcome, "evicted", now, cfg))
        _count(run.shed, "actions")
    while size > target and run.pending:
        decision_id, entry = runs.drop_oldest_pending(run, cfg)
        size -= json_size(entry[:4]) + summary.facts_size(entry[4]) + len(decision_id) + 4
        _count(run.shed, "decisions")
    while size > target and run.problems:
        size -= json_size(run.problems.pop(0)) + 1
        _count(run.shed, "problems")
    seen = ex.seen_ids
    while size > target and seen:
        key = next(iter(seen))
        del seen[key]
        size -= len(key) + 8
        _count(run.shed, "dedup_ids")


def _count(counts: dict[str, int], kind: str) -> None:
    counts[kind] = counts.get(kind, 0) + 1
