"""The error hierarchy. One root, a few typed subclasses; each docstring says what to do."""

from __future__ import annotations

from typing import Literal, get_args

# Why input went to the dead-letter topic. The first five are the decoder's (the bytes
# are not a valid event); the next two the fold's, for valid events it refuses:
# unknown_execution (a healing attempt for an execution with no run) and clock_skew (an
# event stamped too far ahead of its message's timestamp); fold_error: folding the event
# raised, and it was left out (docs/guarantees.md); invalid_otlp: the OTLP bridge's input
# was not OTLP; goal_limit: a goal definition beyond goals_cap (docs/goals.md).
RejectReason = Literal[
    "invalid_json",
    "schema_violation",
    "unknown_type",
    "oversize",
    "key_mismatch",
    "unknown_execution",
    "clock_skew",
    "fold_error",
    "invalid_otlp",
    "goal_limit",
]
REJECT_REASONS: tuple[RejectReason, ...] = get_args(RejectReason)


class AgentfoldError(Exception):
    """Root of every error agentfold raises on purpose. Catch this to catch them all."""


class DecodeError(AgentfoldError):
    """An input message or event could not be turned into a valid event.

    `reason` is one of REJECT_REASONS. The worker never raises this past the decoder:
    the input goes to the dead-letter topic with the reason and its original bytes.
    Fix the producer, then re-publish the dead letter's `original` bytes if needed.
    """

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: RejectReason = reason
        self.message = message


class ConfigError(AgentfoldError):
    """A configuration value is missing, malformed or inconsistent.

    The message names the setting and where it came from (file, AGENTFOLD_* variable or
    flag). Correct that value; defaults are listed by `agentfold config --show`.
    """


class InputError(AgentfoldError):
    """A command-line input (file, flag value) cannot be used; the message says which."""
