"""Fold state ⇄ table bytes. Keys: b"x:<execution_id>" and b"m:<partition>".

Values are orjson of the slotted dataclasses (fast on the write path); restoring goes
through pydantic, which rebuilds the nested dataclasses and int dict keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from pydantic import TypeAdapter

from processors.state import ExecState, PartitionMeta, PartitionState

EXEC_PREFIX = b"x:"
META_PREFIX = b"m:"
_OPTS = orjson.OPT_NON_STR_KEYS
_EXEC = TypeAdapter(ExecState)
_META = TypeAdapter(PartitionMeta)


def exec_key(execution_id: str) -> bytes:
    return EXEC_PREFIX + execution_id.encode("utf-8")


def meta_key(partition: int) -> bytes:
    return META_PREFIX + str(partition).encode("ascii")


def encode_exec(partition: int, ex: ExecState) -> bytes:
    # The partition is stored with the state: restoring never re-derives it from the
    # key, so producers with their own partitioning still restore correctly.
    return orjson.dumps({"p": partition, "s": ex}, option=_OPTS)


def encode_meta(meta: PartitionMeta) -> bytes:
    return orjson.dumps(meta, option=_OPTS)


def decode_exec(raw: bytes) -> tuple[int, ExecState]:
    obj: dict[str, Any] = orjson.loads(raw)
    return int(obj["p"]), _EXEC.validate_python(obj["s"])


def decode_meta(raw: bytes) -> PartitionMeta:
    return _META.validate_python(orjson.loads(raw))


def restore_partition(partition: int, items: Iterable[tuple[bytes, bytes]]) -> PartitionState:
    """Rebuild one partition's state from table items (any partition's items may be mixed in)."""
    meta = PartitionMeta(partition)
    execs: dict[str, ExecState] = {}
    own_meta = meta_key(partition)
    for key, value in items:
        if value is None:
            continue
        if key.startswith(EXEC_PREFIX):
            p, ex = decode_exec(value)
            if p == partition:
                execs[ex.execution_id] = ex
        elif key == own_meta:
            meta = decode_meta(value)
    # deterministic iteration order, whatever order the table yielded
    state = PartitionState(meta, dict(sorted(execs.items())))
    state.reindex()
    return state
