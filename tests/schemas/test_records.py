"""Records mirror the wire models field for field: a field added to a model and not to
its record (or the other way round) fails here, not in a worker decoding that event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.codec import decode_message, encode_event, validate_event
from schemas.events import EVENT_MODELS, _Envelope
from schemas.records import KINDS, Envelope, as_dict, from_model, to_model

FLEET = Path(__file__).resolve().parents[2] / "examples" / "fleet.jsonl"


def fleet_models() -> list[_Envelope]:
    models = []
    for line in FLEET.read_bytes().splitlines():
        try:
            parsed = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        for obj in parsed if isinstance(parsed, list) else [parsed]:
            try:
                models.append(validate_event(obj))
            except Exception:
                continue  # the fleet's deliberate bad input
    return models


def full(model_cls: Any) -> dict[str, Any]:
    """A value for every field of a data model (None-able fields get a value too)."""
    samples: dict[str, Any] = {  # most specific first: "dict[str, Any]" contains "str"
        "dict[str, Any]": {"k": [1, "v"]},
        "list[str]": ["a", "b"],
        "bool": True,
        "float": 0.25,
        "int": 3,
        "str": "x",
        "Any": {"any": ["json"]},
    }
    out: dict[str, Any] = {}
    for name, info in model_cls.model_fields.items():
        text = str(info.annotation)
        for key, value in samples.items():
            if key in text.replace("typing.", "").replace("<class '", "").replace("'>", ""):
                out[name] = value
                break
    return out


def test_every_kind_has_a_record_and_the_fleet_covers_them() -> None:
    assert set(KINDS) == set(EVENT_MODELS)
    assert {m.KIND for m in fleet_models()} == set(EVENT_MODELS)


def test_a_record_holds_every_field_of_its_model_and_converts_back_unchanged() -> None:
    for model in fleet_models():
        record = from_model(model)
        assert isinstance(record, Envelope)
        assert to_model(record) == model
        assert encode_event(record) == encode_event(model)
        fields = as_dict(record)
        assert set(fields) == set(type(model).model_fields) - {
            "specversion",
            "schema_version",
            "type",
        }
        assert set(as_dict(fields["data"])) == set(type(model.data).model_fields)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", sorted(set(EVENT_MODELS) - {"decision"}))
def test_every_optional_field_set_survives_the_round_trip(kind: str) -> None:
    model_cls = EVENT_MODELS[kind]
    data_cls = model_cls.model_fields["data"].annotation
    data = full(data_cls)
    if kind == "healing_attempt":
        data |= {"idempotency_key": "sheal_" + "a" * 32, "outcome": "success"}
    if kind == "run_ended":
        data["status"] = "stuck"
    if kind == "tick":
        data["partition"] = 2
    if kind == "goal_defined":
        data["version"] = 3
        data["partition"] = 1
        data["success_criteria"] = [
            {
                "id": "c",
                "description": "d",
                "metric": "m",
                "type": "t",
                "target": "90%",
                "weight": 0.5,
            }
        ]
        data["constraints"] = [
            {
                "id": "k",
                "description": "d",
                "constraint_type": "soft",
                "category": "x",
                "check": "y",
            }
        ]
    obj = {
        "id": "e",
        "source": "s",
        "subject": "x",
        "time": "2026-11-22T10:00:00.5Z",
        "seq": 4,
        "goal_id": "g",
        "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
        "type": f"agentfold.{kind}",
        "data": data,
    }
    model = validate_event(obj)
    assert set(data) == set(data_cls.model_fields)  # type: ignore[union-attr]
    (decoded,) = decode_message(orjson.dumps(obj)).events
    assert decoded == from_model(model)
    assert to_model(decoded) == model
