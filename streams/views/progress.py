"""A one-line progress display for long work: done/total, rate and ETA, on a terminal.

Off a terminal it draws nothing (logs and pipes stay clean); callers print a summary.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


def _eta(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    """Redraws at most every `every_s`; `done` counts toward `total`, `rate_of` is what
    the rate is shown in (e.g. events, while `done` counts messages)."""

    def __init__(
        self,
        label: str,
        total: int,
        unit: str = "events",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        every_s: float = 0.25,
    ) -> None:
        self.label = label
        self.total = max(total, 0)
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.every_s = every_s
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._width = 0

    def update(self, done: int, counted: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < self.every_s:
            return
        self._last_draw = now
        elapsed = max(now - self.started, 1e-9)
        rate = counted / elapsed
        if self.total:
            frac = min(done / self.total, 1.0)
            bar = "█" * int(frac * 24) + "·" * (24 - int(frac * 24))
            eta = _eta(elapsed * (1 - frac) / frac) if frac > 0 else "?"
            line = (
                f"{self.label} {bar} {frac:4.0%}  {counted:,} {self.unit}  {rate:,.0f}/s  ETA {eta}"
            )
        else:
            line = f"{self.label} {counted:,} {self.unit}  {rate:,.0f}/s"
        pad = " " * max(self._width - len(line), 0)
        self._width = len(line)
        self.stream.write("\r" + line + pad)
        self.stream.flush()

    def lines(self, items: Iterable[T]) -> Iterator[T]:
        """Pass items through, counting them (`done` and the rate both count items)."""
        n = 0
        for n, item in enumerate(items, start=1):
            yield item
            if n % 1024 == 0:
                self.update(n, n)
        self.update(n, n, force=True)

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
