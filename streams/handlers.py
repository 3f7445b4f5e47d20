"""Ready-made healing handlers for the executor.

- `inbox_handlers(inbox)`: deliver the action to the agent as a message in its inbox and
  count it done when the agent acknowledges — what the demo runs, and a template for a
  real channel (a queue, a chat, an API) between an executor and its agents.
- `acknowledge_handlers()`: the default of a standalone `agentfold executor`: log the
  action and report it done. Replace them with your own (`--handlers module:attr`).

Handlers never sleep or block: the engine owns time (streams.attempt_engine).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.errors import InputError
from streams.attempt_engine import ActionContext, Handler

log = logging.getLogger("agentfold.executor")

# What each default action type asks of an agent (DESIGN §6: nudge / revise / escalate).
INSTRUCTIONS = {
    "nudge": "you seem stuck: try a different approach",
    "revise": "re-plan from the goal: the current plan is not making progress",
    "escalate": "pause and hand over to a human operator",
}


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


class AcknowledgeHandler:
    """Log the action and count it done: for trying the loop without a real channel."""

    def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        return {}

    def precheck(self, before: dict[str, Any]) -> bool:
        return True

    def send(self, ctx: ActionContext) -> None:
        a = ctx.action
        log.info(
            "%s for %s (%s, score %s): %s",
            a.get("action_type"),
            ctx.execution_id,
            a.get("tier"),
            a.get("stagnation_score"),
            INSTRUCTIONS.get(str(a.get("action_type")), "carry out the action"),
        )

    def is_complete(self, before: dict[str, Any], now: dict[str, Any]) -> bool:
        return True


def acknowledge_handlers() -> dict[str, Handler]:
    handler = AcknowledgeHandler()
    return {action: handler for action in INSTRUCTIONS}


def load_handlers(spec: str) -> dict[str, Handler]:
    """`module:attr` → {action_type: handler}. `attr` is a mapping, or a callable
    returning one (called with no arguments)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InputError(f"--handlers expects MODULE:ATTRIBUTE, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"--handlers: cannot import {module_name}: {exc}") from None
    try:
        target = getattr(module, attr)
    except AttributeError:
        raise InputError(f"--handlers: {module_name} has no attribute {attr!r}") from None
    found = target() if callable(target) and not isinstance(target, Mapping) else target
    if not isinstance(found, Mapping):
        raise InputError(
            f"--handlers: {spec} must be (or return) a dict of action_type → handler, "
            f"got {type(found).__name__}"
        )
    bad = sorted(str(k) for k, h in found.items() if not isinstance(h, Handler))
    if bad:
        raise InputError(
            f"--handlers: not handlers (need snapshot, precheck, send, is_complete): "
            f"{', '.join(bad)}"
        )
    return {str(k): h for k, h in found.items()}
