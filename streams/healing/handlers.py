"""Ready-made healing handlers for the executor.

- `acknowledge_handlers()`: the default of a standalone `agentfold executor`: log the
  action and report it done. Replace them with your own (`--handlers module:attr`).

Handlers never sleep or block: the engine owns time (streams.healing.engine). The demo's
inbox handlers (streams/demo/inbox.py) are a template for a real channel (a queue, a
chat, an API) between an executor and its agents.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

from schemas.errors import InputError
from streams.healing.engine import ActionContext, Handler

log = logging.getLogger("agentfold.executor")

# What each default action type asks of an agent (docs/rules.md: nudge / revise / escalate).
INSTRUCTIONS = {
    "nudge": "you seem stuck: try a different approach",
    "revise": "re-plan from the goal: the current plan is not making progress",
    "escalate": "pause and hand over to a human operator",
}


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
