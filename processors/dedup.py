"""Redelivery and resend detection (docs/design.md).

An event with a `seq` is a duplicate when that seq was already applied for its
execution; gaps are remembered (bounded) so a late seq still applies once. An event
without a `seq` is a duplicate when its source+id is among the execution's recent ids.
"""

from __future__ import annotations

from bisect import bisect_left

from processors.bounds import TEXT_BYTES
from processors.limits import Limits
from processors.state import ExecState
from schemas.records import Event


def seen_before(ex: ExecState, ev: Event, cfg: Limits) -> bool:
    """True for a duplicate; otherwise records the event as applied and returns False."""
    seq = ev.seq
    if seq is not None:
        return _seen_seq(ex, seq, cfg)
    key = f"{ev.source}\x1f{ev.id}"
    seen = ex.seen_ids
    if key in seen:
        return True
    seen[key] = None
    ex.unmeasured += TEXT_BYTES * len(key) + 8
    if len(seen) > cfg.dedup_ids_cap:
        del seen[next(iter(seen))]
    return False


def _seen_seq(ex: ExecState, seq: int, cfg: Limits) -> bool:
    top = ex.max_seq
    if seq > top:
        gap = seq - top - 1
        if gap:
            room = max(0, cfg.seq_gap_cap - len(ex.missing))
            kept = min(gap, room)
            ex.missing.extend(range(top + 1, top + 1 + kept))
            ex.unmeasured += kept * (len(str(seq)) + 1)
            ex.seq_overflow += gap - kept
        ex.max_seq = seq
        return False
    missing = ex.missing
    i = bisect_left(missing, seq)
    if i < len(missing) and missing[i] == seq:
        del missing[i]  # a late arrival fills its gap and applies once
        return False
    return True
