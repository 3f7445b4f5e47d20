"""JSON Schema export: one document per event type and per output, for non-Python peers."""

from __future__ import annotations

from typing import Any

from schemas.events import EVENT_MODELS, TYPE_PREFIX
from schemas.outputs import OUTPUT_MODELS

_BASE = "https://agentfold.dev/schemas/"


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name → schema. Event schemas are named by their `type`; outputs by topic."""
    docs: dict[str, dict[str, Any]] = {}
    for kind, model in EVENT_MODELS.items():
        name = f"{TYPE_PREFIX}{kind}"
        docs[f"{name}.schema.json"] = _document(model.model_json_schema(), name)
    for topic, out_model in OUTPUT_MODELS.items():
        name = f"{TYPE_PREFIX}{topic}.record"
        docs[f"{name}.schema.json"] = _document(out_model.model_json_schema(), name)
    return docs


def _document(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{_BASE}{name}.schema.json",
        **schema,
    }
