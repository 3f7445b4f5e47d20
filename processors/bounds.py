"""Bounding rules shared by the processors (seed 001's truncation and clamping)."""

from __future__ import annotations

from typing import Any, Final

import orjson

from processors.limits import Limits


def clamp01(x: float) -> float:
    return max(0.0, min(1.0, x))


def truncate_values(d: dict[str, Any], cfg: Limits) -> dict[str, Any]:
    """Top-level truncation: long strings cut to 500 + "..."; a dict or list whose str()
    is over 1000 chars becomes that text cut to 1000 + "..." (a string)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, str) and len(v) > cfg.value_str_max:
            out[k] = v[: cfg.value_str_max] + "..."
        elif isinstance(v, dict | list):
            text = str(v)
            out[k] = text[: cfg.value_repr_max] + "..." if len(text) > cfg.value_repr_max else v
        else:
            out[k] = v
    return out


# What the state budget counts per character of text: UTF-8's most. (An exact count
# costs a method call per string on the hot path; over-counting ASCII only makes the
# fold measure a little more often.)
TEXT_BYTES: Final = 4


def cap_text(s: str, limit: int) -> str:
    """Free text without a cap of its own (goal, narrative, problem texts, intents…),
    cut at `limit` (text_max) characters."""
    return s if len(s) <= limit else s[:limit] + "..."


def json_size(value: Any) -> int:
    """Encoded size of a JSON value as the state codec writes it (int keys allowed)."""
    return len(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


def cap_payload(d: dict[str, Any], cfg: Limits) -> tuple[dict[str, Any], int]:
    """The seed's truncation, then `bound_payload`."""
    return bound_payload(truncate_values(d, cfg), cfg) if d else ({}, 2)


def bound_payload(d: dict[str, Any], cfg: Limits) -> tuple[dict[str, Any], int]:
    """A bound on a whole JSON object: one whose encoding is over payload_max_bytes
    (many keys, say) becomes a marker saying how big it was. Returns the object kept
    and its encoded size. Alone (without the seed's truncation) for what the seed keeps
    whole: an action's expected outcome and outcome, which scoring compares."""
    size = json_size(d)
    if size <= cfg.payload_max_bytes:
        return d, size
    marker = {"truncated": True, "bytes": size}
    return marker, json_size(marker)
