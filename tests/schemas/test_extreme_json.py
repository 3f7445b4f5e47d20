"""The numeric domain and other extremes of JSON, identical on every decoding path.

JSON is what orjson parses: integers within 64 bits stay integers, larger ones become
floats, numbers beyond a double's range are invalid JSON; the schemas' integer fields
are signed 64-bit. A hypothesis test writes extreme JSON text — huge, negative and zero
integers, 1e308, -0.0, deep nesting, long and non-ASCII strings, duplicate keys — and
checks that the message decoder (the compiled fast lane when built) and pydantic alone
agree event by event, accept or reject; and that folding what they accept never raises
and emits only what encodes."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.config import FoldConfig
from schemas.codec import canonical_json, decode_message, validate_event
from schemas.errors import DecodeError
from schemas.events import INT64_MAX
from schemas.records import Event, from_model
from streams.folding import OfflineFold

BIG = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from(
        [
            0,
            -1,
            INT64_MAX,
            INT64_MAX + 1,
            -(2**63),
            -(2**63) - 1,
            2**64 - 1,
            2**64,
            10**30,
            -(10**30),
        ]
    ),
)
FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, -0.0, 0.0, 5e-324, 1.7976931348623157e308]),
)
TEXT = st.one_of(
    st.text(max_size=8), st.text(min_size=300, max_size=2000), st.just("é漢字🙂\u0000")
)
SCALAR = st.one_of(st.none(), st.booleans(), BIG, FLOATS, TEXT)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"d": value}
    return value


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    subject = "exec-x"
    seq = draw(st.one_of(st.integers(1, 5), BIG))
    kind = draw(st.sampled_from(["metric", "outcome", "run_started", "decision", "step"]))
    data: dict[str, Any] = {
        "metric": {"name": draw(st.sampled_from(["impressions", "engagements"])),
                   "value": draw(st.one_of(FLOATS, BIG))},
        "outcome": {"decision_id": "dec_0", "success": True, "result": draw(VALUE),
                    "tokens_used": draw(st.one_of(st.integers(0, 10), BIG)),
                    "latency_ms": draw(st.one_of(st.integers(0, 10), BIG))},
        "run_started": {"goal_id": "g", "input_data": {"v": draw(VALUE),
                        "deep": nested(draw(st.integers(0, 60)))}},
        "decision": {"decision_id": "dec_0", "intent": draw(TEXT), "chosen_option_id": "a",
                     "input_context": {"x": draw(VALUE)}},
        "step": {"action_id": "a1", "description": draw(TEXT), "confidence": draw(FLOATS),
                 "state": {"s": draw(VALUE)}},
    }[kind]  # fmt: skip
    event = {
        "specversion": "1.0",
        "id": f"e-{seq}",
        "source": "agent",
        "subject": subject,
        "type": f"agentfold.{kind}",
        "time": "2026-11-22T10:00:00.000Z",
        "seq": seq,
        "data": data,
    }
    text = json.dumps(event, ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):  # a duplicate key: the last one wins, as in every parser here
        text = text.replace('"source": "agent"', '"source": "first", "source": "agent"', 1)
    return text.encode()


def reference(raw: bytes) -> tuple[list[Event], list[str]]:
    """pydantic alone, on what orjson parses: the events, or why not."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return [], ["invalid_json"]
    try:
        return [from_model(validate_event(parsed))], []
    except DecodeError as exc:
        return [], [exc.reason]


@settings(max_examples=400, deadline=None)
@given(messages())
def test_the_decoder_and_pydantic_agree_on_extreme_json(raw: bytes) -> None:
    decoded = decode_message(raw)
    events, reasons = reference(raw)
    assert decoded.events == events
    assert [r.reason for r in decoded.rejected] == reasons
    for event in decoded.events:  # whatever is accepted folds and encodes
        folder = OfflineFold(FoldConfig(), 1)
        for emitted in folder.feed_event(event):
            canonical_json(emitted.record.value)


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("tokens_used", INT64_MAX, True),
        ("tokens_used", INT64_MAX + 1, False),
        ("tokens_used", 10**30, False),  # read as 1e30, a float: not an integer count
        ("latency_ms", -1, False),
    ],
)
def test_integer_fields_are_signed_64_bit(field: str, value: int, accepted: bool) -> None:
    raw = json.dumps(
        {"specversion": "1.0", "id": "e", "source": "a", "subject": "x",
         "type": "agentfold.outcome", "time": "2026-11-22T10:00:00Z",
         "data": {"decision_id": "dec_0", "success": True, field: value}}
    ).encode()  # fmt: skip
    decoded = decode_message(raw)
    assert bool(decoded.events) is accepted
    if not accepted:
        assert [r.reason for r in decoded.rejected] == ["schema_violation"]


def test_numbers_beyond_a_double_are_invalid_json() -> None:
    raw = b'{"type": "agentfold.metric", "data": {"name": "n", "value": 1e400}}'
    assert [r.reason for r in decode_message(raw).rejected] == ["invalid_json"]


def test_token_and_latency_sums_saturate_instead_of_overflowing() -> None:
    kinds: list[tuple[str, dict[str, Any]]] = [("run_started", {"goal_id": "g"})]
    for k in range(3):
        decision = {"decision_id": f"dec_{k}", "intent": "i", "chosen_option_id": "a"}
        outcome = {"decision_id": f"dec_{k}", "success": True, "tokens_used": INT64_MAX,
                   "latency_ms": INT64_MAX}  # fmt: skip
        kinds += [("decision", decision), ("outcome", outcome)]
    kinds.append(("run_ended", {"success": True}))
    lines = [
        json.dumps({"specversion": "1.0", "id": f"e{i}", "source": "a", "subject": "x",
                    "type": f"agentfold.{kind}", "time": "2026-11-22T10:00:00Z", "seq": i,
                    "data": data}).encode()
        for i, (kind, data) in enumerate(kinds, start=1)
    ]  # fmt: skip
    out = [e.record for e in OfflineFold(FoldConfig(), 1).feed_lines(lines)]
    run = [r.value for r in out if r.topic == "runs"][-1]
    assert run["metrics"]["total_tokens"] == INT64_MAX
    assert run["metrics"]["total_latency_ms"] == INT64_MAX
    canonical_json(run)
