"""Load `FoldConfig` from defaults < config file < AGENTFOLD_* environment < flags.

A config file is TOML or JSON whose top-level keys are FoldConfig fields, e.g.

    window_s = 600
    healthy_below = 0.0
    tier_actions = { tier_1 = "comment", tier_2 = "edit", tier_3 = "thread" }

Tables named in RESERVED_SECTIONS hold settings of other components and are skipped.
Environment variables are AGENTFOLD_<FIELD> (AGENTFOLD_WINDOW_S=600); a value that
parses as JSON is taken as JSON (AGENTFOLD_TIER_ACTIONS='{"tier_1": "comment", ...}').
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from processors.config import FoldConfig
from schemas.errors import ConfigError

ENV_PREFIX = "AGENTFOLD_"
RESERVED_SECTIONS = frozenset({"worker", "broker", "executor", "sdk", "demo"})


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a TOML or JSON config file (by suffix; TOML unless it ends in .json)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        doc = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise ConfigError(f"config file {path} is not valid {kind}: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"config file {path} must hold a table/object of settings")
    return doc


def env_values(env: Mapping[str, str]) -> dict[str, Any]:
    """The FoldConfig fields set by AGENTFOLD_* variables (others are ignored here)."""
    fields = FoldConfig.model_fields
    values: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        field = name[len(ENV_PREFIX) :].lower()
        if field in fields:
            values[field] = _parse_scalar(raw)
    return values


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """`--set key=value` flags: value parsed as JSON when it is JSON, else a string."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        values[key.strip()] = _parse_scalar(raw)
    return values


def _parse_scalar(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def load_fold_config(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> FoldConfig:
    layers: list[tuple[str, dict[str, Any]]] = []
    if config_file is not None:
        doc = read_config_file(config_file)
        layers.append(
            (str(config_file), {k: v for k, v in doc.items() if k not in RESERVED_SECTIONS})
        )
    if env is not None:
        layers.append(("environment (AGENTFOLD_*)", env_values(env)))
    if overrides:
        layers.append(("flags", dict(overrides)))
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for source, values in layers:
        for key, value in values.items():
            merged[key] = value
            origin[key] = source
    try:
        return FoldConfig.model_validate(merged)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(config)"
            where = origin.get(str(err["loc"][0]), "defaults") if err["loc"] else "combined"
            problems.append(f"  {field} (from {where}): {err['msg']}")
        raise ConfigError("invalid configuration:\n" + "\n".join(problems)) from None
