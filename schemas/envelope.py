"""The CloudEvents envelope of an agentfold event, built in one place: the SDK, the
executor's attempt reports, the worker's clock ticks, the demo and the test-data
generators all call `envelope()`, so the wire format has one definition."""

from __future__ import annotations

from typing import Any

from schemas.events import SCHEMA_VERSION
from schemas.timefmt import format_ms

SPECVERSION = "1.0"
TYPE_PREFIX = "agentfold."


def envelope(
    kind: str,
    *,
    id: str,
    source: str,
    time_ms: int,
    data: dict[str, Any],
    subject: str | None = None,
    seq: int | None = None,
    goal_id: str | None = None,
    traceparent: str | None = None,
) -> dict[str, Any]:
    """One event as a JSON-ready dict: `kind` is the type without its prefix
    ("decision"); optional attributes that are None are left out."""
    event: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": id,
        "source": source,
        "type": TYPE_PREFIX + kind,
        "time": format_ms(time_ms),
        "schema_version": SCHEMA_VERSION,
    }
    for name, value in (
        ("subject", subject),
        ("seq", seq),
        ("goal_id", goal_id),
        ("traceparent", traceparent),
    ):
        if value is not None:
            event[name] = value
    event["data"] = data
    return event


def goal_defined(
    goal: dict[str, Any], time_ms: int, source: str = "agentfold-goals"
) -> dict[str, Any]:
    """A goal's definition event (`goal` as GoalDefinedData's fields): the same id for
    the same goal and version, so writing it to every partition, or again, is harmless."""
    return envelope(
        "goal_defined",
        id=f"goal:{goal['goal_id']}:v{goal['version']}",
        source=source,
        time_ms=time_ms,
        data=goal,
    )
