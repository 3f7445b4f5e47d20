"""Bounding rules shared by the processors (seed 001's truncation and clamping)."""

from __future__ import annotations

from typing import Any

from processors.config import FoldConfig


def clamp01(x: float) -> float:
    return max(0.0, min(1.0, x))


def truncate_values(d: dict[str, Any], cfg: FoldConfig) -> dict[str, Any]:
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
