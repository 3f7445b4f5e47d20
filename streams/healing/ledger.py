"""The executor's ledger: which attempts it has started, kept in `<prefix>.executor`.

Before running a plan the executor records the start here and commits the plan's
offset, so a crash mid-attempt loses that attempt instead of repeating it. At start it
reads its own records back (a topic bounded by retention, never the telemetry log) and
remembers the newest `cap` of them in memory.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from schemas.canonical import canonical_json
from schemas.outputs import EXECUTOR_LEDGER, HEALING
from schemas.timefmt import format_ms
from streams.kafka.topicio import read_topic
from streams.kafka.topics import create_topics, list_topics, topic_name

log = logging.getLogger("agentfold.executor")


def attempt_key(value: dict[str, Any]) -> tuple[str, int]:
    return str(value["idempotency_key"]), int(value["attempt"])


class RecentAttempts:
    """The newest `cap` started attempts, oldest forgotten first: bounded memory."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._keys: dict[tuple[str, int], None] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: tuple[str, int]) -> None:
        self._keys[key] = None
        if len(self._keys) > self.cap:
            del self._keys[next(iter(self._keys))]


def ledger_record(source: str, action: dict[str, Any], now_ms: int) -> tuple[bytes, bytes]:
    key, attempt = attempt_key(action)
    value = {
        "source": source,
        "idempotency_key": key,
        "attempt": attempt,
        "execution_id": action.get("execution_id"),
        "action_type": action.get("action_type"),
        "started_at": format_ms(now_ms),
    }
    return f"{key}:{attempt}".encode(), canonical_json(value)


async def started_attempts(broker: str, prefix: str, source: str, cap: int) -> RecentAttempts:
    """The attempts `source` has started, from its ledger (creating the topic if an
    older deployment lacks it: same partition count as the healing topic)."""
    ledger = topic_name(prefix, EXECUTOR_LEDGER)
    counts = await list_topics(broker, prefix)
    if ledger not in counts:
        await create_topics(
            broker, prefix, counts.get(topic_name(prefix, HEALING), 1), only={EXECUTOR_LEDGER}
        )
    started: list[tuple[str, str, int]] = []
    for records in (await read_topic(broker, ledger)).values():
        for r in records:
            try:
                doc = orjson.loads(r.value)
                if doc.get("source") == source:
                    key = (str(doc["idempotency_key"]), int(doc["attempt"]))
                    started.append((str(doc.get("started_at", "")), *key))
            except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
                log.warning("ledger record %s/%s is not readable; ignored", r.partition, r.offset)
    done = RecentAttempts(cap)
    for _, idempotency_key, attempt in sorted(started):  # oldest first: forgotten first
        done.add((idempotency_key, attempt))
    return done
