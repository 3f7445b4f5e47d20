"""Spans as the mapping reads them, from either source: the OTLP protobuf a Collector
writes to Kafka (`opentelemetry-proto`'s ExportTraceServiceRequest, binary or protobuf
JSON), or the SDK's own finished spans. One neutral shape, so that both paths map
through the same code and give the same events."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Attr = str | bool | int | float | tuple[Any, ...] | None

OTLP_ENCODINGS = ("otlp_proto", "otlp_json")


class OtlpError(ValueError):
    """A message that is not an OTLP ExportTraceServiceRequest in the expected encoding."""


@dataclass(frozen=True, slots=True)
class SpanEventView:
    name: str
    time_ns: int
    attributes: Mapping[str, Attr] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SpanView:
    trace_id: str  # 32 lowercase hex digits
    span_id: str  # 16 lowercase hex digits
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int
    error: bool  # status ERROR
    status_message: str
    attributes: Mapping[str, Attr]
    events: tuple[SpanEventView, ...] = ()
    resource: Mapping[str, Attr] = field(default_factory=dict)


# ─── OTLP (the Collector's Kafka exporter) ──────────────────────────────────────────


def parse_otlp(raw: bytes, encoding: str = "otlp_proto") -> list[SpanView]:
    """The spans of one Kafka message. Raises OtlpError when it cannot be parsed."""
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    try:
        if encoding == "otlp_json":
            json_format.ParseDict(_ids_as_base64(json.loads(raw)), request)
        elif encoding == "otlp_proto":
            request.ParseFromString(raw)
        else:
            raise OtlpError(f"unknown encoding {encoding!r}: one of {', '.join(OTLP_ENCODINGS)}")
    except (
        DecodeError,
        json_format.ParseError,
        ValueError,  # JSON, UTF-8, hex
        TypeError,
        AttributeError,
        RecursionError,
    ) as exc:
        raise OtlpError(f"not an OTLP ExportTraceServiceRequest ({encoding}): {exc}") from None
    spans = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                spans.append(
                    SpanView(
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_span_id=s.parent_span_id.hex() or None,
                        name=s.name,
                        start_ns=s.start_time_unix_nano,
                        end_ns=s.end_time_unix_nano,
                        error=s.status.code == 2,  # STATUS_CODE_ERROR
                        status_message=s.status.message,
                        attributes=_attributes(s.attributes),
                        events=tuple(
                            SpanEventView(e.name, e.time_unix_nano, _attributes(e.attributes))
                            for e in s.events
                        ),
                        resource=resource,
                    )
                )
    return spans


_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _ids_as_base64(doc: Any) -> Any:
    """OTLP/JSON writes trace and span ids as hex, where protobuf's JSON mapping expects
    base64 for bytes fields: rewrite them, leave the rest to json_format."""
    if isinstance(doc, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode()
            if k in _ID_FIELDS and isinstance(v, str)
            else _ids_as_base64(v)
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [_ids_as_base64(v) for v in doc]
    return doc


def _attributes(key_values: Sequence[Any]) -> dict[str, Attr]:
    return {kv.key: _any_value(kv.value) for kv in key_values}


def _any_value(v: Any) -> Attr:
    which = v.WhichOneof("value")
    if which in ("string_value", "bool_value", "int_value", "double_value"):
        value: Attr = getattr(v, which)
        return value
    if which == "array_value":
        return tuple(_any_value(x) for x in v.array_value.values)
    if which == "bytes_value":
        return bytes(v.bytes_value).hex()
    if which == "kvlist_value":
        return tuple((kv.key, _any_value(kv.value)) for kv in v.kvlist_value.values)
    return None


# ─── the SDK's finished spans (in process) ──────────────────────────────────────────


def from_sdk(spans: Sequence[Any]) -> list[SpanView]:
    """`opentelemetry.sdk.trace.ReadableSpan`s, as a SpanExporter receives them."""
    from opentelemetry.trace import StatusCode

    out = []
    for s in spans:
        ctx = s.context
        parent = s.parent
        out.append(
            SpanView(
                trace_id=f"{ctx.trace_id:032x}",
                span_id=f"{ctx.span_id:016x}",
                parent_span_id=f"{parent.span_id:016x}" if parent is not None else None,
                name=s.name,
                start_ns=s.start_time or 0,
                end_ns=s.end_time or s.start_time or 0,
                error=s.status.status_code is StatusCode.ERROR,
                status_message=s.status.description or "",
                attributes=_plain(s.attributes),
                events=tuple(
                    SpanEventView(e.name, e.timestamp, _plain(e.attributes)) for e in s.events
                ),
                resource=_plain(s.resource.attributes if s.resource is not None else {}),
            )
        )
    return out


def _plain(attributes: Mapping[str, Any] | None) -> dict[str, Attr]:
    return {
        k: tuple(v) if isinstance(v, list | tuple) else v for k, v in (attributes or {}).items()
    }
