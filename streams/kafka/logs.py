"""The Kafka client's retry logging, rate-limited.

aiokafka logs every failed attempt while a broker is away — about 60 lines a second per
client, which buries everything else (37,000 lines in ten minutes of a worker whose
broker died). `quiet_retries` lets the first of each kind of message through, then at
most one per back-off step (1 s, 2 s, 4 s … up to 60 s), saying how many like it were
held back; a kind that goes quiet starts over at 1 s. Warnings and errors only: what
the client logs below WARNING is `--debug` output and passes as it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

# aiokafka's loggers (a logger's filters see only its own records, not its children's).
CLIENT_LOGGERS = (
    "aiokafka",
    "aiokafka.admin.client",
    "aiokafka.cluster",
    "aiokafka.conn",
    "aiokafka.consumer.consumer",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.producer.producer",
    "aiokafka.producer.sender",
)
FIRST_STEP_S = 1.0
MAX_STEP_S = 60.0
MAX_KINDS = 256  # distinct message templates tracked (they are a fixed set in practice)


class RateLimit(logging.Filter):
    """One record per message template per back-off step (module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        # (logger, template) -> [next allowed at, current step, held back since]
        self._kinds: dict[tuple[str, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        now = self.clock()
        key = (record.name, str(record.msg))
        state = self._kinds.get(key)
        if state is None:
            if len(self._kinds) >= MAX_KINDS:
                self._kinds.pop(next(iter(self._kinds)))
            self._kinds[key] = [now + FIRST_STEP_S, FIRST_STEP_S, 0]
            return True
        allowed_at, step, held = state
        if now < allowed_at:
            state[2] = held + 1
            return False
        if held:
            record.msg = f"{record.getMessage()} ({int(held)} more like it held back)"
            record.args = ()
            step = min(step * 2, MAX_STEP_S)
        else:
            step = FIRST_STEP_S
        state[:] = [now + step, step, 0]
        return True


_INSTALLED: RateLimit | None = None


def quiet_retries() -> RateLimit:
    """Rate-limit the Kafka client's warnings and errors in this process (idempotent)."""
    global _INSTALLED
    if _INSTALLED is None:
        _INSTALLED = RateLimit()
        for name in CLIENT_LOGGERS:
            logging.getLogger(name).addFilter(_INSTALLED)
    return _INSTALLED
