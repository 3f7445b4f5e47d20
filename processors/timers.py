"""Event-time timers: deadlines stored in the execution state, indexed by one heap.

The authoritative copy of a timer is `ExecState.timers[timer_id]`; the heap is an index
with lazy deletion. Timer ids start with a digit that orders kinds firing at the same
deadline: a window closes before an ack expires, before a retry, before an action's
TTL, before the run's inactivity timeout.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from processors.state import ExecState, PartitionState

WINDOW = "0w:"
ACK = "1ack:"
RETRY = "2retry:"
TTL = "3ttl:"
IDLE = "4idle"

_COMPACT_FLOOR = 1024


def set_timer(ps: PartitionState, ex: ExecState, timer_id: str, deadline: int) -> None:
    previous = ex.timers.get(timer_id)
    if previous == deadline:
        return
    ex.timers[timer_id] = deadline
    heapq.heappush(ps.heap, (deadline, ex.execution_id, timer_id))
    if previous is not None:
        ps.stale += 1
        _maybe_compact(ps)


def cancel_timer(ps: PartitionState, ex: ExecState, timer_id: str) -> None:
    if ex.timers.pop(timer_id, None) is not None:
        ps.stale += 1
        _maybe_compact(ps)


def pop_due(ps: PartitionState, now: int) -> Iterator[tuple[int, ExecState, str]]:
    """Yield (deadline, execution, timer_id) for every live timer with deadline <= now.

    Deadline order, ties by execution id then timer id. Timers set while iterating
    are seen too, so chains (window after window) fire within one advance.
    """
    heap = ps.heap
    execs = ps.execs
    while heap and heap[0][0] <= now:
        deadline, exec_id, timer_id = heapq.heappop(heap)
        ex = execs.get(exec_id)
        if ex is None or ex.timers.get(timer_id) != deadline:
            ps.stale = max(0, ps.stale - 1)
            continue
        del ex.timers[timer_id]
        yield deadline, ex, timer_id


def _maybe_compact(ps: PartitionState) -> None:
    # Cancelled timers stay in the heap until due; rebuild once they dominate so the
    # heap stays proportional to live timers, not to throughput.
    if ps.stale > _COMPACT_FLOOR and ps.stale * 2 > len(ps.heap):
        ps.rebuild_heap()
