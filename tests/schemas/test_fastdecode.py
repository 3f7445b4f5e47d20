"""The fast lane never disagrees with pydantic: what it accepts, pydantic accepts as the
same record; what it declines goes to pydantic. And it does take the common case."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import fastdecode
from schemas.codec import _ONE, decode_message, validate_event
from schemas.errors import DecodeError
from schemas.records import Event, from_model
from schemas.timefmt import format_ms, parse_rfc3339_ms

FAST_KINDS = (
    "metric",
    "step",
    "observation",
    "decision",
    "outcome",
    "action_started",
    "action_completed",
    "run_started",
)
MISSING = object()


def pydantic_record(obj: dict[str, Any]) -> Event | None:
    """What the pydantic path makes of one event (JSON mode, as a message is read)."""
    raw = orjson.dumps(obj)
    try:
        json_mode = from_model(_ONE.validate_json(raw))
    except Exception:
        json_mode = None
    try:
        python_mode: Event | None = from_model(validate_event(orjson.loads(raw)))
    except DecodeError:
        python_mode = None
    assert json_mode == python_mode  # both pydantic paths agree, so either is the reference
    return json_mode


# ─── values: mostly clean, sometimes in a form only pydantic should judge ─────────────

texts = st.text(max_size=12)
ids = st.one_of(st.text(min_size=1, max_size=12), st.just(""), st.text(min_size=257, max_size=260))
finite = st.floats(allow_nan=False, allow_infinity=False)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), finite, texts)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=6,
)
json_obj = st.dictionaries(texts, json_value, max_size=3)


def field(good: st.SearchStrategy[Any], clean: bool) -> st.SearchStrategy[Any]:
    if clean:
        return good
    odd = st.one_of(json_value, st.just(MISSING))
    return st.one_of(good, good, good, odd)


def floats(clean: bool) -> st.SearchStrategy[Any]:
    exact = 2**53  # larger ints are left to pydantic (float() could round)
    good = st.one_of(finite, st.integers(-exact, exact))
    # any integer a message can carry (orjson reads [-2**63, 2**64 - 1] as integers)
    wide = st.integers(-(2**63), 2**64 - 1)
    return field(good, clean) if clean else field(st.one_of(good, wide), clean)


def times(clean: bool) -> st.SearchStrategy[Any]:
    ms = st.integers(-(10**12), 4 * 10**12)
    canonical = ms.map(format_ms)
    if clean:
        return canonical
    variants = st.one_of(
        canonical.map(lambda s: s[:19] + "Z"),  # no fraction
        st.tuples(canonical, st.integers(1, 9)).map(lambda p: p[0][:20] + "7" * p[1] + "Z"),
        canonical.map(lambda s: s[:-1] + "+02:00"),
        canonical.map(lambda s: s.replace("T", "t")),
        canonical.map(lambda s: s[:-1]),  # no offset
        st.from_regex(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,4})?Z", fullmatch=True),
    )
    return field(st.one_of(canonical, variants), clean)


DATA: dict[str, dict[str, Any]] = {}


def data_for(kind: str, clean: bool) -> st.SearchStrategy[dict[str, Any]]:
    t = lambda: field(texts, clean)  # noqa: E731
    d = lambda: field(json_obj, clean)  # noqa: E731
    i = lambda: field(ids, clean) if not clean else st.text(min_size=1, max_size=12)  # noqa: E731
    lists = lambda: field(st.lists(texts, max_size=3), clean)  # noqa: E731
    counts = field(st.integers(0, 10**6), clean)
    option = st.fixed_dictionaries(
        {"id": t()},
        optional={
            "description": t(),
            "action_type": t(),
            "action_params": d(),
            "pros": lists(),
            "cons": lists(),
            "confidence": floats(clean),
        },
    )
    shapes: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        "metric": ({"name": i(), "value": floats(clean)}, {"unit": t()}),
        "step": (
            {"action_id": i()},
            {"description": t(), "state": d(), "decision": t(), "confidence": floats(clean)},
        ),
        "observation": (
            {"action_id": i(), "observation_type": t()},
            {"data": d(), "source": t(), "confidence": floats(clean)},
        ),
        "decision": (
            {"decision_id": i(), "intent": t()},
            {
                "node_id": t(),
                "decision_type": field(
                    st.sampled_from(["custom", "delegation"] + ([] if clean else ["nope"])), clean
                ),
                "options": field(st.lists(option, max_size=2), clean),
                "chosen_option_id": t(),
                "reasoning": t(),
                "active_constraints": lists(),
                "input_context": d(),
            },
        ),
        "outcome": (
            {"decision_id": i(), "success": field(st.booleans(), clean)},
            {
                "result": json_value,
                "error": field(st.one_of(st.none(), texts), clean),
                "summary": t(),
                "state_changes": d(),
                "tokens_used": counts,
                "latency_ms": counts,
            },
        ),
        "action_started": (
            {"action_id": i(), "action_type": t()},
            {
                "parent_action_id": field(st.one_of(st.none(), texts), clean),
                "expected_outcome": d(),
                "acceptance_criteria": lists(),
            },
        ),
        "action_completed": ({"action_id": i()}, {"outcome": d()}),
        "run_started": (
            {},
            {"goal_id": t(), "goal_description": t(), "input_data": d(), "stream_id": t()},
        ),
    }
    required, optional = shapes[kind]
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def events(draw: st.DrawFn, clean: bool) -> dict[str, Any]:
    kind = draw(st.sampled_from(FAST_KINDS))
    trace = st.one_of(st.none(), st.from_regex(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", fullmatch=True))
    envelope = {
        "id": draw(field(st.text(min_size=1, max_size=12), clean) if clean else field(ids, clean)),
        "source": draw(st.text(min_size=1, max_size=8)),
        "subject": draw(field(st.text(min_size=1, max_size=8), clean)),
        "type": f"agentfold.{kind}",
        "time": draw(times(clean)),
        "seq": draw(field(st.one_of(st.none(), st.integers(1, 10**9)), clean)),
        "specversion": draw(field(st.just("1.0"), clean)),
        "schema_version": draw(field(st.just(1), clean)),
        "goal_id": draw(field(st.one_of(st.none(), texts), clean)),
        "traceparent": draw(field(trace, clean)),
        "data": draw(field(data_for(kind, clean), clean)),
    }
    return orjson.loads(orjson.dumps(present(envelope)))  # exactly what a message parses to


def present(value: Any) -> Any:
    """The value with every MISSING field left out, at any depth."""
    if isinstance(value, dict):
        return {k: present(v) for k, v in value.items() if v is not MISSING}
    if isinstance(value, list):
        return [present(v) for v in value if v is not MISSING]
    return value


@settings(max_examples=600, deadline=None)
@given(events(clean=False))
def test_the_fast_lane_accepts_only_what_pydantic_accepts_and_builds_the_same(
    obj: dict[str, Any],
) -> None:
    fast = fastdecode.decode(obj)
    if fast is not None:
        assert fast == pydantic_record(obj)


@settings(max_examples=300, deadline=None)
@given(events(clean=True))
def test_the_fast_lane_takes_the_clean_common_case(obj: dict[str, Any]) -> None:
    fast = fastdecode.decode(obj)
    assert fast is not None
    assert fast == pydantic_record(obj)


@settings(max_examples=500, deadline=None)
@given(st.integers(-(62 * 10**12), 253 * 10**12), st.integers(0, 9), st.integers(0, 10**9 - 1))
def test_canonical_time_is_parse_rfc3339_ms(ms: int, digits: int, frac: int) -> None:
    text = format_ms(ms)
    if digits != 3:
        fraction = f"{frac:09d}"[:digits]
        text = text[:19] + (f".{fraction}" if digits else "") + "Z"
    assert fastdecode.canonical_ms(text) == parse_rfc3339_ms(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-29T00:00:00Z",  # not a leap year
        "2024-02-30T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-11-22T24:00:00Z",
        "2026-11-22T23:60:00Z",
        "2026-11-22T23:59:60Z",
        "0000-01-01T00:00:00Z",
        "2026-11-22T10:00:00.Z",
        "2026-11-22T10:00:00.1234567890Z",
        "2026-11-22T10:00:00+00:00",
        "2026-11-22 10:00:00Z",
        "２０２６-11-22T10:00:00Z",  # fullwidth digits
    ],
)
def test_canonical_time_declines_everything_else(text: str) -> None:
    assert fastdecode.canonical_ms(text) is None


def test_a_message_mixing_fast_and_pydantic_events_decodes_in_order() -> None:
    base = {"specversion": "1.0", "source": "a", "subject": "x", "time": "2026-11-22T10:00:00Z"}
    batch = [
        {**base, "id": "1", "type": "agentfold.metric", "data": {"name": "n", "value": 1}},
        {**base, "id": "2", "type": "agentfold.run_ended", "data": {"success": True}},
        {**base, "id": "3", "type": "agentfold.metric", "data": {"name": "n", "value": "2.5"}},
    ]
    decoded = decode_message(orjson.dumps(batch), b"x")
    assert not decoded.rejected
    assert [e.id for e in decoded.events] == ["1", "2", "3"]
    assert decoded.events[2].data.value == 2.5  # type: ignore[union-attr]  # pydantic's coercion
