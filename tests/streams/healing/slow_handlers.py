"""Handlers for executor subprocesses in tests (`--handlers
tests.streams.healing.slow_handlers:handlers`): each attempt takes about ATTEMPT_S, so
that a kill can land while attempts run."""

from __future__ import annotations

import time
from typing import Any

from streams.healing.engine import ActionContext, Handler

ATTEMPT_S = 0.15


class Slow:
    def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        return {"at": time.monotonic()}

    def precheck(self, before: dict[str, Any]) -> bool:
        return True

    def send(self, ctx: ActionContext) -> None:
        pass

    def is_complete(self, before: dict[str, Any], now: dict[str, Any]) -> bool:
        return bool(now["at"] - before["at"] >= ATTEMPT_S)


def handlers() -> dict[str, Handler]:
    return {"nudge": Slow()}
