"""How goal facts travel in `goalfacts`: the facts of one goal that one fetch produced
ride in one message, as a JSON array (a single fact as an object).

A goal fact per message made the worker pay a producer send — and a delivery to wait
for before the next state flush — for every decision and outcome of a goal's runs,
more than folding the event. Batched per goal, a fetch costs a send per goal it
touched. The facts keep their order, and each keeps its own id, partition and number:
readers (the goal stage, `replay --verify`, `tail`) unpack them (`unpack`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from schemas.canonical import canonical_json
from schemas.outputs import GOAL_FACTS, OutputRecord


def pack(records: Iterable[OutputRecord]) -> tuple[list[OutputRecord], list[tuple[str, bytes]]]:
    """The records other than goal facts, and one (goal id, message value) per goal
    with facts among them, in the order each goal first appears."""
    others: list[OutputRecord] = []
    facts: dict[str, list[bytes]] = {}
    for record in records:
        if record.topic == GOAL_FACTS and record.key is not None:
            facts.setdefault(record.key, []).append(canonical_json(record.value))
        else:
            others.append(record)
    messages = [
        (goal, values[0] if len(values) == 1 else b"[" + b",".join(values) + b"]")
        for goal, values in facts.items()
    ]
    return others, messages


def unpack(value: bytes) -> list[dict[str, Any]]:
    """The facts of one `goalfacts` message (raises on what is not JSON)."""
    doc = orjson.loads(value)
    return doc if isinstance(doc, list) else [doc]
