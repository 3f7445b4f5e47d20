"""The only place agentfold's I/O side reads time: a wall clock and a monotonic one,
injected wherever "now" is needed (the SDK's event stamps, the executor's deadlines and
reports, the worker's ticks and flush timer). Tests pass a `FakeClock` and move time by
hand — bytewax's `EventClock(now_getter=…)` with its `TimeTestingGetter` is the model.

`processors/` never sees a clock: its time is event time, carried in the log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock time in integer milliseconds since the epoch (event stamps)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines, intervals)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for `seconds` (the executor's blocking attempt engine)."""
        ...


class SystemClock:
    """The machine's clocks."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


@dataclass
class FakeClock:
    """A clock that moves only when told to; `sleep` advances it instead of waiting."""

    wall_ms: int = 1_800_000_000_000
    mono_s: float = 0.0

    def now_ms(self) -> int:
        return self.wall_ms

    def monotonic(self) -> float:
        return self.mono_s

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.mono_s += seconds
        self.wall_ms += round(seconds * 1000)
