"""What several commands share: broker and config flags, flags made from a settings
model's fields (default and help text come from the model), reading an input file."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias

from pydantic import BaseModel

from processors.config import FoldConfig
from schemas.errors import InputError

BROKER_ENV = "AGENTFOLD_BROKER"
PREFIX_ENV = "AGENTFOLD_TOPIC_PREFIX"
PARTITIONS_ENV = "AGENTFOLD_PARTITIONS"
DEFAULT_PREFIX = "agentfold"
DEFAULT_PARTITIONS = 8

if TYPE_CHECKING:
    # What each command module's `register` adds its subparser to.
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def add_config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML or JSON file of settings (see docs)"
    )
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one fold setting (repeatable), e.g. --set window_s=600",
    )


def add_broker_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--broker",
        default=os.environ.get(BROKER_ENV),
        metavar="HOST:PORT",
        help=f"Kafka bootstrap servers (default: ${BROKER_ENV})",
    )
    p.add_argument(
        "--prefix",
        default=os.environ.get(PREFIX_ENV, DEFAULT_PREFIX),
        help=f"topic name prefix (default: ${PREFIX_ENV} or {DEFAULT_PREFIX})",
    )


def add_partitions_flag(
    p: argparse.ArgumentParser, help_text: str, default: int = DEFAULT_PARTITIONS
) -> None:
    p.add_argument(
        "--partitions",
        type=int,
        default=int(os.environ.get(PARTITIONS_ENV, str(default))),
        metavar="N",
        help=f"{help_text} (default: ${PARTITIONS_ENV} or {default})",
    )


def add_model_flags(
    p: argparse.ArgumentParser, model: type[BaseModel], flags: dict[str, str]
) -> None:
    """One flag per named field (`{field: "--flag"}`), its help the field's description
    and its default shown; the flag's value is None when not given, so that lower layers
    (file, environment) keep theirs."""
    for name, flag in flags.items():
        info = model.model_fields[name]
        choices = getattr(info.annotation, "__args__", None)
        literal = getattr(info.annotation, "__origin__", None) is not None and all(
            isinstance(c, str) for c in choices or ()
        )
        kind: Any = (
            None
            if literal
            else float
            if info.annotation is float
            else int
            if info.annotation is int
            else str
        )
        extra: dict[str, Any] = {"choices": list(choices)} if literal and choices else {}
        if kind is not None:
            extra["type"] = kind
            extra["metavar"] = "S" if name.endswith("_s") else "N" if kind is int else "TEXT"
        default = info.get_default(call_default_factory=True)
        shown = "none" if default is None else default
        p.add_argument(
            flag,
            dest=name,
            default=None,
            help=f"{info.description or name} (default {shown}; env {env_name(name)})",
            **extra,
        )


def env_name(setting: str) -> str:
    return f"AGENTFOLD_{setting.upper()}"


def need_broker(args: argparse.Namespace) -> str:
    if not args.broker:
        raise InputError(
            f"no broker: pass --broker HOST:PORT or set {BROKER_ENV} "
            "(`agentfold broker` starts an embedded one)"
        )
    return check_broker(str(args.broker))


def telemetry_topic(broker: str, prefix: str) -> tuple[str, int]:
    """The telemetry topic's name and partition count, or InputError saying how to
    create it."""
    import asyncio

    from streams.kafka import list_topics, topic_name

    topic = topic_name(prefix, "telemetry")
    partitions = asyncio.run(list_topics(broker, prefix)).get(topic)
    if not partitions:
        raise InputError(
            f"topic {topic} not found on {broker}: create the topics first "
            f"(agentfold topics create --prefix {prefix})"
        )
    return topic, partitions


def check_broker(address: str) -> str:
    """A bootstrap list of HOST:PORT entries, or InputError saying which entry is not."""
    from streams.kafka.clients import bootstrap_problem

    problem = bootstrap_problem(address)
    if problem is not None:
        raise InputError(problem)
    return address


KNOWN_ENV = {
    BROKER_ENV,
    PREFIX_ENV,
    PARTITIONS_ENV,
    "AGENTFOLD_NATIVE",
    "AGENTFOLD_NATIVE_DIR",
}


def unknown_env(env: dict[str, str]) -> list[str]:
    """Warnings for AGENTFOLD_* variables no setting reads (a typo is silently ignored
    otherwise), each with the nearest known name."""
    import difflib

    from streams.config import WorkerSettings
    from streams.healing.executor import ExecutorSettings
    from streams.kafka.security import KafkaSecurity
    from streams.otel.settings import BridgeSettings

    models = (FoldConfig, WorkerSettings, ExecutorSettings, BridgeSettings, KafkaSecurity)
    known = KNOWN_ENV | {env_name(f) for m in models for f in m.model_fields}
    warnings = []
    for name in sorted(k for k in env if k.startswith("AGENTFOLD_") and k not in known):
        near = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        warnings.append(f"agentfold: warning: {name} is not a setting and is ignored{hint}")
    return warnings


def fold_config(args: argparse.Namespace, doc: dict[str, Any] | None = None) -> FoldConfig:
    """The fold settings the flags, environment and config file (`doc`: already read) say."""
    from streams.config import load_fold_config, parse_assignments

    overrides = parse_assignments(args.assignments)
    return load_fold_config(args.config, os.environ, overrides, doc=doc)


def positive(value: int, flag: str) -> int:
    if value < 1:
        raise InputError(f"{flag} must be at least 1, got {value}")
    return value


def open_input(name: str, stack: ExitStack) -> BinaryIO:
    if name == "-":
        return sys.stdin.buffer
    try:
        return stack.enter_context(open(name, "rb"))
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from None
