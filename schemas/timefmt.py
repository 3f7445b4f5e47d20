"""Event time on the wire is RFC 3339; inside agentfold it is integer epoch milliseconds.

Integer milliseconds keep window maths exact and make every comparison deterministic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def parse_rfc3339_ms(text: str) -> int:
    """Parse an RFC 3339 timestamp with an explicit offset into epoch milliseconds.

    Sub-millisecond digits are truncated (towards the past), never rounded, so that the
    same text always maps to the same millisecond.
    """
    if not isinstance(text, str):
        raise ValueError("time must be an RFC 3339 string such as 2026-11-22T10:00:00Z")
    if len(text) < 19 or text[10] not in "Tt ":
        raise ValueError(f"time {text!r} is not RFC 3339 (expected 2026-11-22T10:00:00Z)")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time {text!r} is not RFC 3339 (expected 2026-11-22T10:00:00Z)") from None
    if parsed.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset; append 'Z' or '+00:00'")
    return (parsed - _EPOCH) // _ONE_MS


def format_ms(ms: int) -> str:
    """Format epoch milliseconds as RFC 3339 UTC with exactly three fractional digits."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
