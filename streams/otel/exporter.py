"""In process: an OpenTelemetry SpanExporter that sends spans, mapped, through a Recorder.

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from streams.otel import AgentfoldSpanExporter
    from streams.sdk import Recorder

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(AgentfoldSpanExporter(Recorder())))

Needs the `otel` extra (`pip install 'agentfold[otel]'`); the worker imports none of it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from streams.otel.bridge import valid_events
from streams.otel.mapping import Mapper
from streams.otel.spans import from_sdk
from streams.sdk.recorder import Recorder

log = logging.getLogger("agentfold.otel")


class AgentfoldSpanExporter(SpanExporter):
    """Maps each exported batch of spans (the bridge's mapping) into `recorder`. The
    recorder delivers in the background; `shutdown` closes it when `close_recorder`."""

    def __init__(
        self, recorder: Recorder, remember: int = 100_000, close_recorder: bool = False
    ) -> None:
        self.recorder = recorder
        self.mapper = Mapper(remember)
        self.close_recorder = close_recorder
        self.ignored: Counter[str] = Counter()
        self.events = 0

    def export(self, spans: Sequence[Any]) -> Any:
        mapped = self.mapper.map(from_sdk(spans))
        self.ignored.update(mapped.ignored)
        ok = True
        for event in valid_events(mapped.events, self.ignored):
            ok = self.recorder.record(event) and ok
            self.events += 1
        # FAILURE: the recorder's buffer was full (the broker unreachable for long)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.recorder.flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        if self.close_recorder:
            self.recorder.close()
