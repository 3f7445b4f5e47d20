"""Fold state ⇄ table bytes. Keys: b"x:<execution_id>" and b"m:<partition>".

An execution key holds either its state ({"p", "s"}) or, once the execution has been
released, its tombstone ({"p", "closed": [ms, max_seq, n]}) — kept under the same key
so that one write moves an execution from live to closed. The meta key holds the
partition's clock, next input offset and counters. Values are orjson of the slotted
dataclasses (fast on the write path); restoring goes through pydantic, which rebuilds
the nested dataclasses and int dict keys.
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


def exec_key(execution_id: str) -> bytes:
    return EXEC_PREFIX + execution_id.encode("utf-8")


def meta_key(partition: int) -> bytes:
    return META_PREFIX + str(partition).encode("ascii")


def encode_exec(partition: int, ex: ExecState) -> bytes:
    # The partition is stored with the state: restoring never re-derives it from the
    # key, so producers with their own partitioning still restore correctly.
    return orjson.dumps({"p": partition, "s": ex}, option=_OPTS)


def encode_tombstone(partition: int, closed: tuple[int, int, int]) -> bytes:
    return orjson.dumps({"p": partition, "closed": closed})


def encode_meta(meta: PartitionMeta) -> bytes:
    # `closed` lives in the execution keys, not here (see module docstring).
    return orjson.dumps(
        {
            "partition": meta.partition,
            "stream_ms": meta.stream_ms,
            "next_offset": meta.next_offset,
            "released": meta.released,
            "events": meta.events,
            "ticks": meta.ticks,
            "duplicates": meta.duplicates,
            "after_close": meta.after_close,
            "late_events": meta.late_events,
        }
    )


def decode_exec(raw: bytes) -> tuple[int, ExecState]:
    obj: dict[str, Any] = orjson.loads(raw)
    return int(obj["p"]), _EXEC.validate_python(obj["s"])


def restore_partition(partition: int, items: Iterable[tuple[bytes, bytes]]) -> PartitionState:
    """Rebuild one partition's state from table items (any partition's items may be mixed in)."""
    meta = PartitionMeta(partition)
    execs: dict[str, ExecState] = {}
    tombstones: list[tuple[int, int, int, str]] = []
    own_meta = meta_key(partition)
    for key, value in items:
        if value is None:
            continue
        if key.startswith(EXEC_PREFIX):
            obj: dict[str, Any] = orjson.loads(value)
            if int(obj["p"]) != partition:
                continue
            exec_id = key[len(EXEC_PREFIX) :].decode("utf-8")
            if "closed" in obj:
                ms, max_seq, n = obj["closed"]
                tombstones.append((int(n), int(ms), int(max_seq), exec_id))
            else:
                ex = _EXEC.validate_python(obj["s"])
                execs[ex.execution_id] = ex
        elif key == own_meta:
            m = orjson.loads(value)
            meta = PartitionMeta(
                partition,
                stream_ms=m["stream_ms"],
                next_offset=m["next_offset"],
                released=m["released"],
                events=m["events"],
                ticks=m["ticks"],
                duplicates=m["duplicates"],
                after_close=m["after_close"],
                late_events=m["late_events"],
            )
    tombstones.sort()  # release order, exactly as the live fold inserted them
    meta.closed = {exec_id: (ms, max_seq, n) for n, ms, max_seq, exec_id in tombstones}
    if tombstones:
        meta.released = max(meta.released, tombstones[-1][0] + 1)
    state = PartitionState(meta, dict(sorted(execs.items())))
    state.reindex()
    return state
