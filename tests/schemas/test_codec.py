"""Decoding: every reject reason, batches with bad neighbours, time, round trips."""

from __future__ import annotations

import base64
import tracemalloc
from typing import Any

import orjson
import pytest

from schemas.codec import (
    MAX_MESSAGE_BYTES,
    canonical_json,
    dead_letter,
    decode_message,
    encode_event,
)
from schemas.errors import REJECT_REASONS
from schemas.events import KINDS
from schemas.outputs import Origin
from schemas.records import Metric
from schemas.timefmt import format_ms, parse_rfc3339_ms


def ev(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "specversion": "1.0",
        "id": "e1",
        "source": "agent",
        "type": "agentfold.metric",
        "subject": "exec-1",
        "time": "2026-11-22T10:00:00Z",
        "seq": 1,
        "schema_version": 1,
        "data": {"name": "impressions", "value": 3},
    }
    base.update(over)
    return base


def raw(obj: Any) -> bytes:
    return orjson.dumps(obj)


@pytest.mark.parametrize(
    ("payload", "reason", "fragment"),
    [
        (b"\x00\x9f garbage", "invalid_json", ""),
        (b'{"type": ', "invalid_json", ""),
        (raw(ev(type="agentfold.telepathy")), "unknown_type", "telepathy"),
        (raw(ev(type="com.example.x")), "unknown_type", ""),
        (raw(ev(data={"name": "x"})), "schema_violation", "data.value"),
        (raw(ev(time="yesterday")), "schema_violation", "RFC 3339"),
        (raw(ev(time="2026-11-22T10:00:00")), "schema_violation", "UTC offset"),
        (raw(ev(seq=0)), "schema_violation", "seq"),
        (raw(ev(schema_version=2)), "schema_violation", "newer"),
        (raw(ev(subject=None)), "schema_violation", "subject"),
        (raw("just a string"), "schema_violation", "JSON object"),
        (raw([]), "schema_violation", "empty"),
        (
            raw(ev(type="agentfold.step", data={"action_id": "a"}))[:-2] + b',"confidence":1e400}}',
            "invalid_json",
            "infinity",
        ),
    ],
)
def test_each_bad_input_gets_a_reason(payload: bytes, reason: str, fragment: str) -> None:
    decoded = decode_message(payload)
    assert decoded.events == []
    (rej,) = decoded.rejected
    assert rej.reason == reason
    assert fragment in rej.error
    assert rej.raw == payload


def test_oversize_is_rejected_before_parsing() -> None:
    payload = raw(ev(data={"name": "x" * 10, "value": 1, "unit": "u" * MAX_MESSAGE_BYTES}))
    (rej,) = decode_message(payload).rejected
    assert rej.reason == "oversize"


def test_key_must_equal_subject_when_checked() -> None:
    assert decode_message(raw(ev()), key=b"exec-1").events
    (rej,) = decode_message(raw(ev()), key=b"other").rejected
    assert rej.reason == "key_mismatch"
    (rej,) = decode_message(raw(ev()), key=None).rejected
    assert rej.reason == "key_mismatch" and "no key" in rej.error


def test_batch_keeps_valid_neighbours_of_bad_events() -> None:
    batch = [ev(id="a"), ev(id="b", type="agentfold.nope"), ev(id="c", data={}), ev(id="d")]
    decoded = decode_message(raw(batch), key=b"exec-1")
    assert [e.id for e in decoded.events] == ["a", "d"]
    assert [(r.reason, r.index) for r in decoded.rejected] == [
        ("unknown_type", 1),
        ("schema_violation", 2),
    ]
    assert orjson.loads(decoded.rejected[0].raw)["id"] == "b"


def test_a_batch_holds_one_execution() -> None:
    decoded = decode_message(raw([ev(id="a"), ev(id="b", subject="exec-2")]))
    assert [e.id for e in decoded.events] == ["a"]
    assert decoded.rejected[0].reason == "key_mismatch"


def test_unknown_fields_are_ignored() -> None:
    (e,) = decode_message(raw(ev(extra=1, data={"name": "n", "value": 1, "x": 2}))).events
    assert isinstance(e, Metric)


def test_every_reason_is_known() -> None:
    assert set(REJECT_REASONS) == {
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
    }


def test_time_is_epoch_ms_inside_and_rfc3339_outside() -> None:
    (e,) = decode_message(raw(ev(time="2026-11-22T11:00:00.1239+01:00"))).events
    assert e.time == parse_rfc3339_ms("2026-11-22T10:00:00.123Z")
    assert orjson.loads(encode_event(e))["time"] == "2026-11-22T10:00:00.123Z"
    assert format_ms(0) == "1970-01-01T00:00:00.000Z"


def test_encode_decode_round_trip() -> None:
    (e,) = decode_message(raw(ev())).events
    (again,) = decode_message(encode_event(e)).events
    assert again == e


def test_dead_letter_keeps_original_bytes_and_origin() -> None:
    payload = raw([ev(id="a"), ev(id="b", data={})])
    (rej,) = decode_message(payload, key=b"exec-1").rejected
    rec = dead_letter(rej, Origin(topic="agentfold.telemetry", partition=3, offset=42), "exec-1")
    v = rec.value
    assert v["id"] == "dl:agentfold.telemetry/3/42#1"
    assert v["origin"]["index"] == 1
    assert orjson.loads(base64.b64decode(v["original"]))["id"] == "b"
    assert rec.key == "exec-1"


def test_every_kind_has_a_model() -> None:
    assert len(KINDS) == 13 and "tick" in KINDS and "goal_defined" in KINDS


def test_canonical_json_costs_its_size_not_the_encoders_buffer() -> None:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [canonical_json({"id": f"x{n}", "score": 0.5}) for n in range(2000)]
        per_value = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert per_value < 400  # orjson's own output: > 4096
