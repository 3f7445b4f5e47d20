"""Valid events the fold refused (`PartitionFold.refused`) as dead letters.

The fold stays pure: it only says which event it would not apply and why. The driver —
the worker and replay per message, the offline fold per line — knows where the event
came from and writes the dead letter, with the event's canonical bytes as the original
and its place among the message's valid events (`#e<n>`) in the id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from processors.fold import PartitionFold
from schemas.codec import Rejected, dead_letter, encode_event
from schemas.outputs import Origin, OutputRecord
from schemas.records import Event


def refusals(
    fold: PartitionFold,
    events: Sequence[Event],
    origin: Origin,
    key: str | None,
    out: list[OutputRecord],
    base: int = 0,
) -> Iterator[str]:
    """Append a dead letter per refused event to `out`, yield each reason; empties
    the fold's list. `events` are the message's valid events from position `base`."""
    refused, fold.refused = fold.refused, []
    for event, reason, error in refused:
        found = next((i for i, e in enumerate(events) if e is event), None)
        position = None if found is None else base + found
        rejected = Rejected(
            reason,
            error,
            encode_event(event),
            subject=event.subject,
            position=position,
        )
        out.append(dead_letter(rejected, origin, key))
        yield reason
