"""Deprecated alias of `streams.sdk`, kept for one release (agentfold 0.2): agents
written against `from streams.recorder import Recorder` keep working. Import from
`streams.sdk` instead."""

from streams.sdk import AsyncRecorder, Recorder, RecorderError, Run, current_traceparent

__all__ = ["AsyncRecorder", "Recorder", "RecorderError", "Run", "current_traceparent"]
