"""The agent SDK: record runs into `<prefix>.telemetry`.

    from streams.sdk import Recorder

Importing it loads neither Faust nor the fold.
"""

from streams.sdk.batcher import Batcher, Message
from streams.sdk.recorder import AsyncRecorder, DeliveryReport, Recorder
from streams.sdk.run import RecorderError, Run, current_traceparent

__all__ = [
    "AsyncRecorder",
    "Batcher",
    "DeliveryReport",
    "Message",
    "Recorder",
    "RecorderError",
    "Run",
    "current_traceparent",
]
