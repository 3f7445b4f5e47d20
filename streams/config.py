"""Every setting, from one loader: defaults < config file < AGENTFOLD_* environment < flags.

Two models hold them: the fold's `FoldConfig` (processors/config.py: pure, no I/O) and
the live worker's `WorkerSettings` (here). A config file is TOML or JSON, read once;
its top-level keys are fold settings and its `[worker]` table the worker's, e.g.

    window_s = 600
    healthy_below = 0.0
    tier_actions = { tier_1 = "comment", tier_2 = "edit", tier_3 = "thread" }

    [worker]
    flush_interval_s = 1.0

Tables named in RESERVED_SECTIONS hold settings of other components and are skipped by
the fold. Environment variables are AGENTFOLD_<SETTING> (AGENTFOLD_WINDOW_S=600); a value
for a non-text setting that parses as JSON is taken as JSON
(AGENTFOLD_TIER_ACTIONS='{"tier_1": "comment", ...}'). Errors name the setting and where
its value came from. `agentfold config --show` prints every setting with its source.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from processors.config import FoldConfig
from schemas.errors import ConfigError
from streams.kafka.security import KafkaSecurity

__all__ = [
    "ENV_PREFIX",
    "FoldConfig",
    "Loaded",
    "WorkerSettings",
    "from_flags",
    "load_all",
    "load_fold_config",
    "load_worker_settings",
    "parse_assignments",
    "read_config_file",
]

ENV_PREFIX = "AGENTFOLD_"
WORKER_SECTION = "worker"
KAFKA_SECTION = "kafka"
# The metrics and probes port of a long-running process (worker, executor).
WebPort = Annotated[
    int,
    Field(
        ge=0,
        le=65535,
        description="port of /metrics (Prometheus), /healthz and /readyz (0 or --no-web: off)",
    ),
]
WebHost = Annotated[str, Field(description="address the web port listens on")]
TEXT_TYPES: tuple[object, ...] = (str, str | None, SecretStr | None, Path | None)
RESERVED_SECTIONS = frozenset({WORKER_SECTION, KAFKA_SECTION, "broker", "executor", "sdk", "demo"})
DEFAULT = "default"

M = TypeVar("M", bound=BaseModel)


class WorkerSettings(BaseModel):
    """Settings of the live worker (not of the fold). File section [worker]; env
    AGENTFOLD_<SETTING> (e.g. AGENTFOLD_BROKER); flags override both."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    broker: str | None = Field(
        default=None, description="Kafka bootstrap HOST:PORT; none = start the embedded broker"
    )
    app_id: str = Field(default="agentfold", description="consumer group and table prefix")
    topic_prefix: str = Field(default="agentfold", description="topic name prefix")
    partitions: int = Field(default=8, ge=1, description="partitions of every topic")
    tick_interval_s: float = Field(
        default=1.0,
        ge=0,
        description="seconds of idleness before a partition with a timer due gets a clock "
        "tick (0 = off)",
    )
    session_timeout_s: float = Field(
        default=10.0, gt=0, description="consumer session timeout (2 on the embedded broker)"
    )
    heartbeat_interval_s: float = Field(
        default=1.0, gt=0, description="consumer heartbeat interval (0.3 on the embedded broker)"
    )
    commit_interval_s: float = Field(
        default=1.0, gt=0, description="offset commit interval (0.5 on the embedded broker)"
    )
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        default="at_least_once", description="exactly_once needs transactions (real Kafka only)"
    )
    counters_interval_s: float = Field(
        default=30.0, gt=0, description="seconds between counter log lines"
    )
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
    fetch_max_records: int = Field(
        default=1000,
        ge=1,
        description="the most telemetry messages one fetch folds at once; a rebalance waits "
        "for the fetch being folded",
    )
    flush_max_outputs: int = Field(
        default=10_000,
        ge=1,
        description="flush sooner once this many outputs were sent since the last flush",
    )
    web_port: WebPort = 9466
    web_host: WebHost = "0.0.0.0"
    stop_timeout_s: float = Field(
        default=8.0,
        gt=0,
        description="how long a stopping worker may drain (finish its flush, leave the "
        "group) before it exits anyway, as after a crash (the broker may be gone)",
    )
    linger_s: float = Field(
        default=0.005,
        ge=0,
        description="how long the producer waits to batch records (Kafka's linger.ms)",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="log level (Faust's own logs stay at WARNING unless debug)"
    )

    @field_validator("broker")
    @classmethod
    def _broker_is_host_port(cls, value: str | None) -> str | None:
        from streams.kafka.clients import bootstrap_problem

        problem = bootstrap_problem(value) if value is not None else None
        if problem is not None:
            raise ValueError(problem)
        return value

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


def _is_text(model: type[BaseModel], name: str) -> bool:
    # Taken as written from a variable: "123" stays a password, not a number.
    return model.model_fields[name].annotation in TEXT_TYPES


@dataclass(slots=True)
class _Layers:
    """Values by setting, each with the source it came from; later layers win."""

    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)


def _layers(
    model: type[BaseModel],
    file_values: Mapping[str, Any],
    file_name: str | None,
    env: Mapping[str, str] | None,
    overrides: Mapping[str, Any] | None,
) -> _Layers:
    layers = _Layers()
    if file_name is not None:
        layers.values.update(file_values)
        layers.origin.update({k: f"{file_name}:{k}" for k in file_values})
    for name, raw in (env or {}).items():
        key = name[len(ENV_PREFIX) :].lower() if name.startswith(ENV_PREFIX) else ""
        if key in model.model_fields:
            layers.values[key] = raw if _is_text(model, key) else _parse_scalar(raw)
            layers.origin[key] = f"${name}"
    for key, value in (overrides or {}).items():
        if value is not None:
            layers.values[key] = value
            layers.origin[key] = "flag"
    return layers


def _validate(model: type[M], layers: _Layers, what: str) -> M:
    try:
        return model.model_validate(layers.values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = err["loc"]
            if not loc:  # a rule across settings: its message names them
                problems.append(f"  {str(err['msg']).removeprefix('Value error, ')}")
                continue
            name = ".".join(str(p) for p in loc)
            where = layers.origin.get(str(loc[0]), DEFAULT)
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = f"not a setting{_nearest(str(loc[0]), model.model_fields)}"
            problems.append(f"  {name} (from {where}): {message}")
        raise ConfigError(f"invalid {what}:\n" + "\n".join(problems)) from None


def _nearest(name: str, known: Iterable[str]) -> str:
    """ "; did you mean X?" for the closest known name, or nothing."""
    near = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean {near[0]}?" if near else " (`agentfold config --show` lists them)"


def from_flags(
    model: type[M], flags: Mapping[str, Any], what: str, env: Mapping[str, str] | None = None
) -> M:
    """A settings model from command-line values (None: not given, the environment's
    AGENTFOLD_* value or the default holds)."""
    return _validate(model, _layers(model, {}, None, env, flags), what)


def _file(config_file: Path | None, doc: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if doc is not None:
        return doc
    return read_config_file(config_file) if config_file is not None else {}


def _fold_layers(
    config_file: Path | None,
    env: Mapping[str, str] | None,
    overrides: Mapping[str, Any] | None,
    doc: Mapping[str, Any] | None,
) -> _Layers:
    values = {k: v for k, v in _file(config_file, doc).items() if k not in RESERVED_SECTIONS}
    name = str(config_file) if config_file is not None else None
    return _layers(FoldConfig, values, name, env, overrides)


def _section_layers(
    model: type[BaseModel],
    section_name: str,
    config_file: Path | None,
    env: Mapping[str, str] | None,
    overrides: Mapping[str, Any] | None,
    doc: Mapping[str, Any] | None,
) -> _Layers:
    """The layers of a model whose file settings are one table of the config file."""
    section = _file(config_file, doc).get(section_name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"[{section_name}] in {config_file} must be a table")
    name = f"{config_file}:[{section_name}]" if config_file is not None else None
    return _layers(model, section, name, env, overrides)


def _worker_layers(
    config_file: Path | None,
    env: Mapping[str, str] | None,
    overrides: Mapping[str, Any] | None,
    doc: Mapping[str, Any] | None,
) -> _Layers:
    layers = _section_layers(WorkerSettings, WORKER_SECTION, config_file, env, overrides, doc)
    if layers.values.get("broker") is None:
        for key, value in EMBEDDED_WORKER_DEFAULTS.items():
            if key not in layers.values:
                layers.values[key] = value
                layers.origin[key] = "default (embedded broker)"
    return layers


def load_fold_config(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    doc: Mapping[str, Any] | None = None,
) -> FoldConfig:
    """The fold's settings; `doc` is the config file already read (it is read once)."""
    return _validate(FoldConfig, _fold_layers(config_file, env, overrides, doc), "configuration")


def load_worker_settings(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    doc: Mapping[str, Any] | None = None,
) -> WorkerSettings:
    """The worker's settings (the file's [worker] table); short consumer timeouts when
    no broker is given, since the worker then starts the embedded one."""
    layers = _worker_layers(config_file, env, overrides, doc)
    return _validate(WorkerSettings, layers, "worker settings")


def load_kafka_security(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    doc: Mapping[str, Any] | None = None,
) -> KafkaSecurity:
    """Every client's security settings: the file's [kafka] table, then AGENTFOLD_*."""
    layers = _section_layers(KafkaSecurity, KAFKA_SECTION, config_file, env, None, doc)
    return _validate(KafkaSecurity, layers, "Kafka security settings")


@dataclass(frozen=True, slots=True)
class Loaded:
    """Both models and, per setting ("fold.window_s", "worker.broker"), its source."""

    fold: FoldConfig
    worker: WorkerSettings
    origins: dict[str, str]

    def rows(self) -> list[tuple[str, Any, str]]:
        """(setting, value, source) for every setting, fold first."""
        out: list[tuple[str, Any, str]] = []
        for scope, model in (("fold", self.fold), ("worker", self.worker)):
            dumped = model.model_dump(mode="json")
            for name in type(model).model_fields:
                key = f"{scope}.{name}"
                out.append((key, dumped[name], self.origins.get(key, DEFAULT)))
        return out


def load_all(
    config_file: Path | None,
    env: Mapping[str, str] | None,
    fold_overrides: Mapping[str, Any] | None = None,
    worker_overrides: Mapping[str, Any] | None = None,
) -> Loaded:
    doc = read_config_file(config_file) if config_file is not None else {}
    fold_layers = _fold_layers(config_file, env, fold_overrides, doc)
    worker_layers = _worker_layers(config_file, env, worker_overrides, doc)
    origins = {f"fold.{k}": v for k, v in fold_layers.origin.items()}
    origins.update({f"worker.{k}": v for k, v in worker_layers.origin.items()})
    return Loaded(
        _validate(FoldConfig, fold_layers, "configuration"),
        _validate(WorkerSettings, worker_layers, "worker settings"),
        origins,
    )


def reference_markdown(models: Mapping[str, type[BaseModel]] | None = None) -> str:
    """The settings reference in docs/operations.md, generated from the models: one
    table per model with each setting's default, its variable and its description."""
    if models is None:
        from streams.healing.executor import ExecutorSettings
        from streams.otel.settings import BridgeSettings

        models = {
            "Fold (top level of --config; `--set KEY=VALUE`)": FoldConfig,
            "Worker (`[worker]` of --config; `agentfold worker --help` for flags)": WorkerSettings,
            "Executor (`agentfold executor --help` for flags)": ExecutorSettings,
            "OTLP bridge (`agentfold bridge otlp --help` for flags)": BridgeSettings,
            "Kafka security (`[kafka]` of --config; every client)": KafkaSecurity,
        }
    out: list[str] = []
    for title, model in models.items():
        out += [f"### {title}", "", "| setting | default | variable | what it does |"]
        out.append("|---|---|---|---|")
        for name, info in model.model_fields.items():
            default = None if info.is_required() else info.get_default(call_default_factory=True)
            if isinstance(default, frozenset):
                default = sorted(default)
            shown = "(required)" if info.is_required() else json.dumps(default, sort_keys=True)
            variable = f"`{ENV_PREFIX}{name.upper()}`"
            text = (info.description or "").replace("|", "\\|")
            out.append(
                f"| `{name}` | `{shown}` | {variable} | {text} |".replace(
                    "`(required)`", "required"
                )
            )
        out.append("")
    return "\n".join(out)
