"""The span mapping on spans made by the real OpenTelemetry SDK: what the fold makes of
them (a tool loop gets a planned healing action, a healthy agent none), and that the
OTLP path (protobuf and OTLP/JSON, encoded by the SDK's own OTLP encoder, as a
Collector writes them) maps exactly as the in-process path does."""

from __future__ import annotations

import base64
import json
from collections import Counter

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from streams.otel.bridge import batches as messages
from streams.otel.bridge import encoded_events
from streams.otel.mapping import Mapper
from streams.otel.spans import OtlpError, SpanView, from_sdk, parse_otlp
from tests.streams.livelog import offline
from tests.streams.otel.toys import batches, fleet


def _in_process(spans: list) -> list[dict]:
    mapper = Mapper()
    return [e for batch in batches(spans) for e in mapper.map(from_sdk(batch)).events]


def _otlp_json(batch: list) -> bytes:
    """OTLP/JSON as the Collector writes it: protobuf's JSON mapping, ids in hex."""
    doc = json_format.MessageToDict(encode_spans(batch))

    def hex_ids(node: object) -> object:
        if isinstance(node, dict):
            return {
                k: base64.b64decode(v).hex()
                if k in ("traceId", "spanId", "parentSpanId")
                else hex_ids(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [hex_ids(v) for v in node]
        return node

    return json.dumps(hex_ids(doc)).encode()


def _lines(events: list[dict]) -> list[bytes]:
    return [value for _, value in messages(encoded_events(events, Counter()))]


@pytest.fixture(scope="module")
def spans() -> list:
    return fleet()


def test_otlp_protobuf_and_json_map_as_the_sdk_spans_do(spans: list) -> None:
    expected = _in_process(spans)
    for encoding in ("otlp_proto", "otlp_json"):
        mapper = Mapper()
        got = []
        for batch in batches(spans):
            raw = (
                encode_spans(batch).SerializeToString()
                if encoding == "otlp_proto"
                else _otlp_json(batch)
            )
            got += mapper.map(parse_otlp(raw, encoding)).events
        assert got == expected, encoding


def test_bridging_the_same_spans_twice_gives_the_same_events(spans: list) -> None:
    assert _in_process(spans) == _in_process(spans)
    ids = [e["id"] for e in _in_process(spans)]
    assert len(ids) == len(set(ids))  # and each has its own id


def test_a_tool_loop_gets_a_healing_plan_and_a_healthy_agent_none(spans: list) -> None:
    out = offline(_lines(_in_process(spans)), partitions=1)
    records = {
        topic: [orjson.loads(v) for v in vs] for (topic, _), vs in out.items()
    }  # one partition
    windows = [w for w in records["stagnation"] if w["execution_id"] == "conv-loop"]
    assert windows[0]["score"] == 1.0
    assert windows[0]["signals"]["repetition"] == 1.0  # the same failing call, 8 times
    assert windows[0]["signals"]["failure_streak"] == 1.0  # no success between them
    plans = [h for h in records["healing"] if h["status"] == "planned"]
    assert {h["execution_id"] for h in plans} == {"conv-loop"}
    runs = {r["execution_id"]: r for r in records["runs"]}
    assert runs["conv-ok"]["status"] == "completed"
    assert runs["conv-handoff"]["status"] == "completed"
    # Tokens on the run: what the model calls of its trace reported (4 × 150; 50 + 7).
    assert runs["conv-ok"]["metrics"]["total_tokens"] == 600
    assert runs["conv-handoff"]["metrics"]["total_tokens"] == 57
    # Its root span never ended, so no run_started or run_ended came: the run is not
    # in the runs topic, but its windows and its plan did not wait for that.
    assert "conv-loop" not in runs
    ok = [w for w in records["stagnation"] if w["execution_id"] == "conv-ok"]
    assert ok and all(w["score"] < 0.3 for w in ok)


def test_handoffs_are_delegations_and_llm_calls_token_metrics(spans: list) -> None:
    events = [e for e in _in_process(spans) if e["subject"] == "conv-handoff"]
    decisions = [e["data"] for e in events if e["type"] == "agentfold.decision"]
    assert [(d["decision_type"], d["chosen_option_id"]) for d in decisions] == [
        ("tool_selection", "lookup"),
        ("delegation", "handoff to specialist"),
        ("delegation", "specialist"),
    ]
    metrics = {e["data"]["name"]: e["data"]["value"] for e in events if "metric" in e["type"]}
    assert metrics == {"gen_ai.usage.input_tokens": 50, "gen_ai.usage.output_tokens": 7}
    assert all(e["traceparent"].startswith("00-") for e in events)


def _view(span_id: str, parent: str | None, **attributes: object) -> SpanView:
    return SpanView(
        trace_id="ab" * 16,
        span_id=span_id,
        parent_span_id=parent,
        name="s",
        start_ns=int(span_id, 16),
        end_ns=int(span_id, 16) + 1,
        error=False,
        status_message="",
        attributes=attributes,  # type: ignore[arg-type]
    )


def test_a_span_without_ids_takes_its_traces_execution() -> None:
    root = _view(
        "01" * 8,
        None,
        **{"gen_ai.operation.name": "invoke_agent"},
        **{"gen_ai.conversation.id": "c1"},
    )
    tool = _view("02" * 8, "01" * 8, **{"gen_ai.operation.name": "execute_tool"})
    mapper = Mapper()
    assert {e["subject"] for e in mapper.map([tool, root]).events} == {"c1"}  # same batch
    later = _view("03" * 8, "01" * 8, **{"gen_ai.operation.name": "execute_tool"})
    assert {e["subject"] for e in mapper.map([later]).events} == {"c1"}  # remembered
    assert {e["subject"] for e in Mapper().map([later]).events} == {f"trace-{'ab' * 16}"}


def test_a_model_call_is_known_by_its_provider_old_or_new_attribute() -> None:
    for attribute in ("gen_ai.provider.name", "gen_ai.system"):
        llm = _view("05" * 8, None, **{attribute: "openai", "gen_ai.usage.output_tokens": 9})
        (metric,) = Mapper().map([llm]).events
        assert metric["data"] == {
            "name": "gen_ai.usage.output_tokens",
            "value": 9,
            "unit": "{token}",
        }


def test_unmapped_spans_are_counted_not_errors() -> None:
    http = _view("04" * 8, None, **{"http.request.method": "GET"})
    mapped = Mapper().map([http])
    assert mapped.events == [] and mapped.ignored == {"span_without_agent_role": 1}


@pytest.mark.parametrize("encoding", ["otlp_proto", "otlp_json"])
def test_bytes_that_are_not_otlp_raise_a_typed_error(encoding: str) -> None:
    with pytest.raises(OtlpError, match="not an OTLP ExportTraceServiceRequest"):
        parse_otlp(b"\xff\xfe garbage {", encoding)
