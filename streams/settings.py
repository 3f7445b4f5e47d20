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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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


# ─── worker settings ────────────────────────────────────────────────────────────────


class WorkerSettings(BaseModel):
    """Settings of the live worker (not of the fold). File section [worker]; env
    AGENTFOLD_<SETTING> (e.g. AGENTFOLD_BROKER); flags override both."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    broker: str | None = Field(
        default=None, description="Kafka bootstrap HOST:PORT; none = start the embedded broker"
    )
    app_id: str = "agentfold"
    topic_prefix: str = "agentfold"
    partitions: int = Field(default=8, ge=1)
    tick_interval_s: float = Field(default=1.0, ge=0, description="0 disables clock ticks")
    session_timeout_s: float = Field(default=10.0, gt=0)
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    commit_interval_s: float = Field(default=1.0, gt=0)
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    counters_interval_s: float = Field(default=30.0, gt=0)
    flush_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="seconds between state flushes to the changelog; after a crash the "
        "worker refolds at most about this much of the log",
    )
    flush_max_dirty: int = Field(
        default=2000,
        ge=1,
        description="flush sooner once a partition has this many changed executions",
    )
    flush_max_outputs: int = Field(
        default=10_000,
        ge=1,
        description="flush sooner once this many outputs were sent since the last flush",
    )
    linger_s: float = Field(
        default=0.005,
        ge=0,
        description="how long the producer waits to batch records (Kafka's linger.ms)",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @model_validator(mode="after")
    def _heartbeat_below_session(self) -> WorkerSettings:
        if self.heartbeat_interval_s * 3 > self.session_timeout_s:
            raise ValueError(
                f"heartbeat_interval_s ({self.heartbeat_interval_s}) must be at most a third "
                f"of session_timeout_s ({self.session_timeout_s})"
            )
        return self


# Tansu holds a JoinGroup for half the session timeout: keep it short on the embedded broker.
EMBEDDED_WORKER_DEFAULTS: dict[str, Any] = {
    "session_timeout_s": 2.0,
    "heartbeat_interval_s": 0.3,
    "commit_interval_s": 0.5,
}


def load_worker_settings(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> WorkerSettings:
    fields = WorkerSettings.model_fields
    merged: dict[str, Any] = {}
    if config_file is not None:
        section = read_config_file(config_file).get("worker", {})
        if not isinstance(section, dict):
            raise ConfigError(f"[worker] in {config_file} must be a table")
        merged.update(section)
    for name, raw in (env or {}).items():
        field = name[len(ENV_PREFIX) :].lower() if name.startswith(ENV_PREFIX) else ""
        if field in fields:
            merged[field] = raw if field == "broker" else _parse_scalar(raw)
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if merged.get("broker") is None:
        merged = {**EMBEDDED_WORKER_DEFAULTS, **merged}
    try:
        return WorkerSettings.model_validate(merged)
    except ValidationError as exc:
        problems = [
            f"  {'.'.join(str(p) for p in e['loc']) or '(worker)'}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ConfigError("invalid worker settings:\n" + "\n".join(problems)) from None
