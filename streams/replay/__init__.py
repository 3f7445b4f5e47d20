"""Rebuild the outputs from the telemetry log, compare them with live, write shadows.

`run_replay(ReplayCommand(...), cfg)` is `agentfold replay`; `replay()` the rebuild
itself (whole, one execution, or as of an event time); `verify()` the comparison.
"""

from streams.replay.command import ReplayCommand, run_replay, summary
from streams.replay.rebuild import (
    ReplayError,
    ReplayRequest,
    ReplayResult,
    concerns,
    replay,
)
from streams.replay.shadow import check_shadow_prefix, publish_shadow
from streams.replay.verify import VerifyReport, compare, group_replay, render_report, verify

__all__ = [
    "ReplayCommand",
    "ReplayError",
    "ReplayRequest",
    "ReplayResult",
    "VerifyReport",
    "check_shadow_prefix",
    "compare",
    "concerns",
    "group_replay",
    "publish_shadow",
    "render_report",
    "replay",
    "run_replay",
    "summary",
    "verify",
]
