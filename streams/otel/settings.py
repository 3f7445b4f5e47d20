"""The OTLP bridge's settings and counters: no work at import, nothing of the fold or
of OpenTelemetry — the CLI and the metrics read them before the compiled fold is
activated (streams.native)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from streams.config import WebHost, WebPort


class BridgeSettings(BaseModel):
    """Settings of the OTLP bridge; `agentfold bridge otlp` takes each as a flag."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    broker: str = Field(description="Kafka bootstrap HOST:PORT")
    topic_prefix: str = Field(default="agentfold", description="topic name prefix")
    source_topic: str = Field(
        default="otlp_spans",
        description="topic the Collector's Kafka exporter writes spans to (its default)",
    )
    encoding: Literal["otlp_proto", "otlp_json"] = Field(
        default="otlp_proto", description="encoding of those messages (the exporter's setting)"
    )
    group: str = Field(default="agentfold-bridge", description="consumer group")
    remember: int = Field(
        default=100_000, ge=1, description="traces whose execution is remembered across messages"
    )
    session_timeout_s: float = Field(default=10.0, gt=0, description="consumer session timeout")
    heartbeat_interval_s: float = Field(
        default=1.0, gt=0, description="consumer heartbeat interval"
    )
    web_port: WebPort = 9468
    web_host: WebHost = "0.0.0.0"


@dataclass
class BridgeStats:
    messages: int = 0
    spans: int = 0
    events: int = 0
    dead_letters: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
