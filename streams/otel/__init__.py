"""OpenTelemetry in: GenAI, OpenInference and Traceloop spans as agentfold events.

`agentfold bridge otlp` (streams.otel.bridge) reads what the Collector's Kafka exporter
writes; `AgentfoldSpanExporter` (needs the `otel` extra) does the same in process.
Both map through streams.otel.mapping."""

from __future__ import annotations

from typing import Any

from streams.otel.mapping import Mapped, Mapper
from streams.otel.spans import OtlpError, SpanView, parse_otlp

__all__ = ["AgentfoldSpanExporter", "Mapped", "Mapper", "OtlpError", "SpanView", "parse_otlp"]


def __getattr__(name: str) -> Any:
    # The exporter imports opentelemetry-sdk: only when asked for.
    if name == "AgentfoldSpanExporter":
        from streams.otel.exporter import AgentfoldSpanExporter

        return AgentfoldSpanExporter
    raise AttributeError(name)
