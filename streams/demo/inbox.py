"""The demo's channel from the executor to its agents: an in-memory inbox per
execution, and handlers that deliver an action as a message and count it done when the
agent acknowledges it. A template for a real channel (a queue, a chat, an API)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from streams.healing import ActionContext, Handler
from streams.healing.handlers import INSTRUCTIONS


@dataclass
class _Mailbox:
    unread: list[dict[str, Any]] = field(default_factory=list)
    delivered: int = 0
    acked: int = 0


class Inbox:
    """Messages from the executor to agents. Thread-safe: the executor runs each attempt
    in a worker thread while agents read on their own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._boxes: dict[str, _Mailbox] = {}

    def connect(self, execution_id: str) -> None:
        with self._lock:
            self._boxes.setdefault(execution_id, _Mailbox())

    def post(self, execution_id: str, message: dict[str, Any]) -> None:
        with self._lock:
            box = self._boxes.get(execution_id)
            if box is None:
                raise LookupError(f"no agent connected for execution {execution_id}")
            box.unread.append(message)
            box.delivered += 1

    def read(self, execution_id: str) -> list[dict[str, Any]]:
        """Take the unread messages (the agent side)."""
        with self._lock:
            box = self._boxes.get(execution_id)
            if box is None:
                return []
            unread, box.unread = box.unread, []
            return unread

    def ack(self, execution_id: str, count: int = 1) -> None:
        with self._lock:
            box = self._boxes.get(execution_id)
            if box is not None:
                box.acked += count

    def state(self, execution_id: str) -> dict[str, Any]:
        with self._lock:
            box = self._boxes.get(execution_id)
            if box is None:
                return {"connected": False, "delivered": 0, "acked": 0}
            return {"connected": True, "delivered": box.delivered, "acked": box.acked}


class InboxHandler:
    """Send the instruction to the agent's inbox; done once the agent acknowledged one
    more message than before. Precondition: the agent is connected."""

    def __init__(self, inbox: Inbox, instruction: str) -> None:
        self.inbox = inbox
        self.instruction = instruction

    def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        return self.inbox.state(ctx.execution_id)

    def precheck(self, before: dict[str, Any]) -> bool:
        return bool(before.get("connected"))

    def send(self, ctx: ActionContext) -> None:
        a = ctx.action
        self.inbox.post(
            ctx.execution_id,
            {
                "action_type": a.get("action_type"),
                "instruction": self.instruction,
                "idempotency_key": a.get("idempotency_key"),
                "attempt": a.get("attempt"),
            },
        )

    def is_complete(self, before: dict[str, Any], now: dict[str, Any]) -> bool:
        return int(now.get("acked", 0)) > int(before.get("acked", 0))


def inbox_handlers(inbox: Inbox) -> dict[str, Handler]:
    return {action: InboxHandler(inbox, text) for action, text in INSTRUCTIONS.items()}
