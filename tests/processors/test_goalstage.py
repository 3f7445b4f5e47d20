"""The goal stage (processors/goalstage.py): goal facts as the `goalfacts` topic carries
them — each partition's `defined` fact first — folded into each goal's record; the
record depends on the set of facts, not on the interleaving, on redelivery, or on a
crash that restores the stage from its changelog and reads from an older position."""

from __future__ import annotations

import random
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.goals import definition_json
from processors.goalstage import GoalSlot, fold_fact, goal_record, slot_from_json, slot_to_json
from tests.processors.test_goals import GOAL, partitions_of_facts


def with_definitions(parts: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """Each partition's facts as the fold emits them: its `defined` fact first (the fold
    numbers facts from 1)."""
    out = []
    for p, facts in enumerate(parts):
        defined = {
            "kind": "defined",
            "goal_id": GOAL.goal_id,
            "version": GOAL.version,
            "partition": p,
            "seq": 1,
            "definition": definition_json(GOAL),
        }
        out.append([defined, *({**f, "seq": f["seq"] + 1} for f in facts)])
    return out


def run(facts: list[dict[str, Any]]) -> dict[str, GoalSlot]:
    goals: dict[str, GoalSlot] = {}
    for fact in facts:
        fold_fact(goals, fact)
    return goals


def record(goals: dict[str, GoalSlot]) -> bytes:
    return orjson.dumps(goal_record(goals[GOAL.goal_id]), option=orjson.OPT_SORT_KEYS)


def test_facts_before_their_definition_and_of_older_versions_change_nothing() -> None:
    [facts] = with_definitions(partitions_of_facts(3, 1))
    goals: dict[str, GoalSlot] = {}
    assert not fold_fact(goals, facts[1])  # no definition seen yet: skipped
    assert goals == {}
    assert fold_fact(goals, facts[0])
    assert not fold_fact(goals, facts[0])  # redelivered
    older = {**facts[1], "version": 0}
    assert not fold_fact(goals, older)
    kept = goals[GOAL.goal_id].definition
    assert kept is not None and definition_json(kept) == definition_json(GOAL)


def test_a_slot_survives_its_json() -> None:
    [facts] = with_definitions(partitions_of_facts(7, 1))
    goals = run(facts)
    slot = goals[GOAL.goal_id]
    assert goals[GOAL.goal_id].state.decisions > 0
    again = slot_from_json(orjson.loads(orjson.dumps(slot_to_json(slot))))
    assert again == slot


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_partitions=st.integers(1, 4),
    order_seed=st.integers(0, 10_000),
)
def test_interleaving_redelivery_and_restores_leave_the_record_as_it_is(
    seed: int, n_partitions: int, order_seed: int
) -> None:
    parts = with_definitions(partitions_of_facts(seed, n_partitions))
    expected = record(run([f for part in parts for f in part]))
    rng = random.Random(order_seed)
    queues = [list(part) for part in parts]
    # A fold that crashed emits a stretch of its facts again.
    p = rng.randrange(len(queues))
    cut = rng.randrange(len(queues[p]) + 1)
    queues[p] = queues[p][:cut] + queues[p][rng.randrange(cut + 1) :]
    topic = []  # one goalfacts partition: the folds' facts interleaved
    while any(queues):
        topic.append(rng.choice([q for q in queues if q]).pop(0))
    # The stage crashes after flushing at `flushed` and applying up to `crashed`; it
    # restores the flushed state and reads from `flushed` again.
    crashed = rng.randrange(len(topic) + 1)
    flushed = rng.randrange(crashed + 1)
    goals = run(topic[:flushed])
    saved = {g: orjson.dumps(slot_to_json(s)) for g, s in goals.items()}
    restored = {g: slot_from_json(orjson.loads(v)) for g, v in saved.items()}
    for fact in topic[flushed:]:
        fold_fact(restored, fact)
    assert record(restored) == expected
