"""Canonical JSON: sorted keys, no whitespace — the same value always gives the same
bytes. Apart from the codec so that producers (the SDK) encode events without loading
the decoder and the records the fold reads."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel

__all__ = ["canonical_json", "encode_model_event", "exact_bytes"]


def exact_bytes(value: bytes) -> bytes:
    """An exact-size copy of orjson's output. orjson.dumps returns bytes that keep their
    buffer's growth capacity (4 KiB for a 24-byte value, 16 KiB for 1.5 KB); anything
    held on to — table values, records kept for comparison — would cost that much."""
    return bytes(memoryview(value))


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace: the same value always gives the same bytes."""
    return exact_bytes(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def encode_model_event(event: BaseModel) -> bytes:
    """The canonical wire bytes of an event model (absent optional attributes left out)."""
    return canonical_json(event.model_dump(mode="json", exclude_none=True))
