"""Healing: carry out planned actions and report each attempt back (seed 003).

A handler (`Handler`: snapshot, precheck, send, is_complete) says what to do; the
attempt engine (`run_attempt`) owns time and the order of outcomes; the `Executor`
consumes the healing topic, runs each planned attempt at most once (its ledger) and
appends a `healing_attempt` event to the telemetry log.
"""

from streams.healing.engine import ActionContext, AttemptResult, Handler, run_attempt
from streams.healing.executor import Executor, ExecutorSettings, ExecutorStats
from streams.healing.handlers import AcknowledgeHandler, acknowledge_handlers, load_handlers

__all__ = [
    "AcknowledgeHandler",
    "ActionContext",
    "AttemptResult",
    "Executor",
    "ExecutorSettings",
    "ExecutorStats",
    "Handler",
    "acknowledge_handlers",
    "load_handlers",
    "run_attempt",
]
