"""Bytes ⇄ events and outputs. The only place that parses or renders JSON.

Decoding never raises on bad input: it returns the valid events and a `Rejected` per
bad one, so that a batch's valid neighbours are still processed (docs/guarantees.md). Old
schema versions are upcast here, never in processors.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from schemas import fastdecode, records
from schemas.canonical import canonical_json, encode_model_event
from schemas.errors import DecodeError, RejectReason
from schemas.events import MODELS_BY_TYPE, SCHEMA_VERSION, TYPE_PREFIX, Event
from schemas.outputs import DEADLETTER, DeadLetter, Origin, OutputRecord
from schemas.records import GoalDefined, Tick

MAX_MESSAGE_BYTES = 1024 * 1024
DEADLETTER_ORIGINAL_CAP = 64 * 1024  # keeps dead letters under Kafka's default 1 MB

# (kind, from_version) -> function turning that version's JSON object into the next one.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


@dataclass(frozen=True, slots=True)
class Rejected:
    """One input that cannot be folded, with everything the dead letter needs."""

    reason: RejectReason
    error: str
    raw: bytes
    index: int | None = None
    subject: str | None = None
    position: int | None = None  # a valid event the fold refused: its place in the message
    suffix: str = ""  # tells apart dead letters of one event (a dropped timer's name)


@dataclass(slots=True)
class Decoded:
    events: list[records.Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


_INSTANCE_OF = re.compile(r" or instance of \w+")


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(event)"
        # pydantic names the model class ("… or instance of MetricData"): a Python
        # name means nothing to the producer reading the dead letter.
        parts.append(f"{loc}: {_INSTANCE_OF.sub('', err['msg'])}")
    more = exc.error_count() - 5
    if more > 0:
        parts.append(f"(+{more} more)")
    return "; ".join(parts)


def _upcast(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    version = obj.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise DecodeError("schema_violation", "schema_version: must be an integer")
    if version > SCHEMA_VERSION:
        raise DecodeError(
            "schema_violation",
            f"schema_version {version} is newer than this agentfold reads ({SCHEMA_VERSION});"
            " upgrade agentfold",
        )
    while version < SCHEMA_VERSION:
        step = UPCASTERS.get((kind, version))
        if step is None:
            raise DecodeError(
                "schema_violation", f"no upcaster for {kind} schema_version {version}"
            )
        obj = step(obj)
        version += 1
        obj["schema_version"] = version
    return obj


def decode_event(obj: object) -> records.Event:
    """Validate one already-parsed JSON value as an event, or raise DecodeError."""
    fast = fastdecode.decode(obj)
    return fast if fast is not None else _validated(obj)


def _validated(obj: object) -> records.Event:
    """The record of one event the fast lane declined: pydantic decides."""
    return records.from_model(validate_event(obj))


def validate_event(obj: object) -> Event:
    """The wire model of one already-parsed JSON value, or DecodeError."""
    if not isinstance(obj, dict):
        raise DecodeError("schema_violation", f"an event must be a JSON object, not {_kind(obj)}")
    type_ = obj.get("type")
    if not isinstance(type_, str):
        raise DecodeError("schema_violation", "type: missing or not a string")
    model = MODELS_BY_TYPE.get(type_)
    if model is None:
        known = ", ".join(sorted(MODELS_BY_TYPE))
        raise DecodeError("unknown_type", f"type {type_!r} is not one of: {known}")
    obj = _upcast(obj, type_[len(TYPE_PREFIX) :])
    try:
        return model.model_validate(obj)  # type: ignore[return-value]
    except ValidationError as exc:
        raise DecodeError("schema_violation", _validation_message(exc)) from None


def _kind(obj: object) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number"}.get(
        type(obj), type(obj).__name__
    )


NO_KEY_CHECK = object()

# JSON is what orjson parses, on every path: integers within 64 bits stay integers,
# larger ones become floats, numbers beyond a double's range are invalid JSON. (pydantic's
# own JSON parser reads them differently: integers of any size, NaN and Infinity.)
_ONE: TypeAdapter[Event] = TypeAdapter(Annotated[Event, Field(discriminator="type")])
_BATCH: TypeAdapter[list[Event]] = TypeAdapter(list[Annotated[Event, Field(discriminator="type")]])


def decode_message(
    raw: bytes, key: bytes | object | None = NO_KEY_CHECK, max_bytes: int = MAX_MESSAGE_BYTES
) -> Decoded:
    """Decode one message value: an event, or a JSON array of events of one execution.

    With `key` given (live input) every non-tick event's subject must equal the key.
    """
    out = Decoded()
    if len(raw) > max_bytes:
        out.rejected.append(
            Rejected("oversize", f"message is {len(raw)} bytes; the limit is {max_bytes}", raw)
        )
        return out
    events = _fast_path(raw, key)
    if events is not None:
        out.events = events
        return out
    return _slow_path(raw, key, out)


_FASTDECODE_COMPILED = not str(fastdecode.__file__).endswith(".py")


def _fast_path(raw: bytes, key: bytes | object | None) -> list[records.Event] | None:
    """All events valid and consistent with the key, or None to take the slow path.

    Each event goes through `fastdecode` (records built directly) and, where that
    declines, through its pydantic model; a DecodeError leaves the whole message to
    the slow path, which reports each bad event precisely. Uncompiled, `fastdecode`
    is slower than pydantic, so then pydantic validates the whole message."""
    if not _FASTDECODE_COMPILED:
        return _pydantic_path(raw, key)
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None  # the slow path says why
    items = parsed if type(parsed) is list else [parsed]
    if not items:
        return None
    try:
        events = fastdecode.decode_all(items, _validated)
    except DecodeError:
        return None
    return _consistent(events, key)


def _pydantic_path(raw: bytes, key: bytes | object | None) -> list[records.Event] | None:
    """The whole message parsed by orjson and validated by pydantic-core in one call,
    then converted."""
    try:
        parsed = orjson.loads(raw)
        if type(parsed) is list:
            models = _BATCH.validate_python(parsed)
        else:
            models = [_ONE.validate_python(parsed)]
    except (orjson.JSONDecodeError, ValidationError):
        return None
    events = [records.from_model(m) for m in models]
    return _consistent(events, key) if events else None


def _consistent(
    events: list[records.Event], key: bytes | object | None
) -> list[records.Event] | None:
    """The events, if all (ticks aside) have one subject, equal to the key if checked."""
    check_key = key is not NO_KEY_CHECK
    expected = _key_text(key) if check_key else None
    return events if fastdecode.subjects_agree(events, expected, check_key) else None


def _slow_path(raw: bytes, key: bytes | object | None, out: Decoded) -> Decoded:
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        out.rejected.append(Rejected("invalid_json", str(exc), raw))
        return out
    if isinstance(parsed, list):
        if not parsed:
            out.rejected.append(Rejected("schema_violation", "empty batch array", raw))
            return out
        items: list[tuple[int | None, object]] = list(enumerate(parsed))
    else:
        items = [(None, parsed)]
    check_key = key is not NO_KEY_CHECK
    key_text = _key_text(key) if check_key else None
    batch_subject: str | None = None
    for index, item in items:
        subject = item.get("subject") if isinstance(item, dict) else None
        subject = subject if isinstance(subject, str) else None
        try:
            event = decode_event(item)
            if not isinstance(event, Tick | GoalDefined):
                _check_subject(event.subject, key_text, check_key, batch_subject)
                batch_subject = batch_subject or event.subject
        except DecodeError as exc:
            item_raw = raw if index is None else orjson.dumps(item)
            out.rejected.append(Rejected(exc.reason, exc.message, item_raw, index, subject))
            continue
        out.events.append(event)
    return out


def _key_text(key: object) -> str | None:
    if key is None:
        return None
    if isinstance(key, bytes):
        return key.decode("utf-8", errors="replace")
    return str(key)


def _check_subject(
    subject: str | None, key_text: str | None, check_key: bool, batch_subject: str | None
) -> None:
    if check_key:
        if key_text is None:
            raise DecodeError(
                "key_mismatch", f"message has no key; it must be the subject {subject!r}"
            )
        if key_text != subject:
            raise DecodeError(
                "key_mismatch", f"message key {key_text!r} differs from subject {subject!r}"
            )
    if batch_subject is not None and subject != batch_subject:
        raise DecodeError(
            "key_mismatch",
            f"a batch holds one execution; subject {subject!r} differs from {batch_subject!r}",
        )


# ─── encoding ───────────────────────────────────────────────────────────────────────


def model_json(model: BaseModel) -> bytes:
    return canonical_json(model.model_dump(mode="json"))


def encode_event(event: Event | records.Envelope) -> bytes:
    """The canonical wire bytes of an event, from its model or its decoded record."""
    model = records.to_model(event) if isinstance(event, records.Envelope) else event
    return encode_model_event(model)


def encode_output(record: OutputRecord) -> bytes:
    return canonical_json(record.value)


def dead_letter(rejected: Rejected, origin: Origin, key: str | None) -> OutputRecord:
    """The dead-letter record for a rejected input; its id is derived from its origin."""
    if origin.topic is not None:
        where = f"{origin.topic}/{origin.partition}/{origin.offset}"
    else:
        where = f"{origin.file}:{origin.line}"
    if rejected.index is not None:
        where += f"#{rejected.index}"
        origin = origin.model_copy(update={"index": rejected.index})
    elif rejected.position is not None:  # #e<n>: the n-th valid event of the message
        where += f"#e{rejected.position}"
    where += rejected.suffix
    kept = rejected.raw[:DEADLETTER_ORIGINAL_CAP]
    value = DeadLetter(
        id=f"dl:{where}",
        reason=rejected.reason,
        error=rejected.error,
        key=key if key is not None else rejected.subject,
        original=base64.b64encode(kept).decode("ascii"),
        original_size=len(rejected.raw),
        original_truncated=len(kept) < len(rejected.raw),
        origin=origin,
    )
    return OutputRecord(DEADLETTER, value.key, value.model_dump(mode="json"))
