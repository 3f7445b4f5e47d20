"""Per-execution batching for the SDK: one Kafka message per execution per flush.

A message is a JSON array of one execution's encoded events. A batch is closed when it
reaches `max_events` or would pass `max_bytes`, or when its first event has waited
`linger_s`. Everything buffered — open batches and closed messages not yet delivered —
is capped at `max_buffered` events: past it new events are dropped and counted, so a
broker that is down never makes the agent's memory grow. Thread-safe: agents call
`add` from their threads, the sender takes messages from its event loop.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Open:
    events: list[bytes] = field(default_factory=list)
    size: int = 2  # the brackets
    since: float = 0.0


@dataclass(frozen=True, slots=True)
class Message:
    key: str
    value: bytes
    events: int


class Batcher:
    def __init__(
        self,
        max_events: int = 500,
        max_bytes: int = 256 * 1024,
        linger_s: float = 0.020,
        max_buffered: int = 100_000,
    ) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.linger_s = linger_s
        self.max_buffered = max_buffered
        self._open: dict[str, _Open] = {}
        self._ready: deque[Message] = deque()
        self._lock = threading.Lock()
        self.buffered = 0  # events in open batches and undelivered messages
        self.dropped = 0
        self.recorded = 0  # events accepted into the buffer
        self.delivered_events = 0

    def add(self, key: str, event: bytes, now: float) -> bool:
        """Buffer one encoded event; False when it was dropped (buffer full)."""
        with self._lock:
            if self.buffered >= self.max_buffered:
                self.dropped += 1
                return False
            batch = self._open.get(key)
            if batch is not None and (
                len(batch.events) >= self.max_events or batch.size + len(event) + 1 > self.max_bytes
            ):
                self._close(key, batch)
                batch = None
            if batch is None:
                batch = self._open[key] = _Open(since=now)
            batch.events.append(event)
            batch.size += len(event) + (1 if len(batch.events) > 1 else 0)
            self.buffered += 1
            self.recorded += 1
            if len(batch.events) >= self.max_events:
                self._close(key, batch)
            return True

    def _close(self, key: str, batch: _Open) -> None:
        del self._open[key]
        value = b"[" + b",".join(batch.events) + b"]"
        self._ready.append(Message(key, value, len(batch.events)))

    def take(self, now: float, everything: bool = False) -> list[Message]:
        """Messages ready to send: full ones, lingered ones (or all with `everything`).
        They stay counted in `buffered` until `delivered` or `requeue`."""
        with self._lock:
            for key, batch in list(self._open.items()):
                if everything or now - batch.since >= self.linger_s:
                    self._close(key, batch)
            out = list(self._ready)
            self._ready.clear()
            return out

    def close_all(self) -> None:
        """Close every open batch now (flush): the sender takes them next."""
        with self._lock:
            for key, batch in list(self._open.items()):
                self._close(key, batch)

    def delivered(self, message: Message) -> None:
        with self._lock:
            self.buffered -= message.events
            self.delivered_events += message.events

    def requeue(self, messages: list[Message]) -> None:
        """Put undelivered messages back at the front, in their order."""
        with self._lock:
            self._ready.extendleft(reversed(messages))

    @property
    def empty(self) -> bool:
        with self._lock:
            return self.buffered == 0
