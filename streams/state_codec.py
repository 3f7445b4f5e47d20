"""Fold state ⇄ table bytes. Keys: b"x:<execution_id>" and b"m:<partition>".

An execution key holds either its state ({"p", "s"}) or, once the execution has been
released, its tombstone ({"p", "closed": [ms, max_seq, n]}) — kept under the same key
so that one write moves an execution from live to closed. The partition's meta (clock,
next input offset, counters) rides along as "m" on execution values, and has a key of
its own for messages that write no execution last: restoring takes the meta with the
highest `next_offset` found anywhere (see streams/live.py for why that is exact). States go
through `processors.state_json` both ways, field by field: the state classes may be
compiled to native classes (streams/native.py), which orjson's dataclass support and
pydantic cannot handle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from processors.state import ExecState, PartitionMeta, PartitionState
from processors.state_json import exec_from_json, exec_to_json
from schemas.codec import exact_bytes

EXEC_PREFIX = b"x:"
META_PREFIX = b"m:"
_OPTS = orjson.OPT_NON_STR_KEYS


def exec_key(execution_id: str) -> bytes:
    return EXEC_PREFIX + execution_id.encode("utf-8")


def meta_key(partition: int) -> bytes:
    return META_PREFIX + str(partition).encode("ascii")


MetaDict = dict[str, int]


def meta_dict(meta: PartitionMeta) -> MetaDict:
    # `closed` lives in the execution keys, not here (see module docstring).
    return {
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


def encode_exec(partition: int, ex: ExecState, meta: MetaDict | None = None) -> bytes:
    # The partition is stored with the state: restoring never re-derives it from the
    # key, so producers with their own partitioning still restore correctly.
    value: dict[str, Any] = {"p": partition, "s": exec_to_json(ex)}
    if meta is not None:
        value["m"] = meta
    return exact_bytes(orjson.dumps(value, option=_OPTS))


def encode_tombstone(
    partition: int, closed: tuple[int, int, int], meta: MetaDict | None = None
) -> bytes:
    value: dict[str, Any] = {"p": partition, "closed": closed}
    if meta is not None:
        value["m"] = meta
    return exact_bytes(orjson.dumps(value))


def encode_meta(meta: MetaDict) -> bytes:
    return exact_bytes(orjson.dumps(meta))


def decode_exec(raw: bytes) -> tuple[int, ExecState]:
    obj: dict[str, Any] = orjson.loads(raw)
    return int(obj["p"]), exec_from_json(obj["s"])


def restore_partition(partition: int, items: Iterable[tuple[bytes, bytes]]) -> PartitionState:
    """Rebuild one partition's state from table items (any partition's items may be mixed in)."""
    execs: dict[str, ExecState] = {}
    tombstones: list[tuple[int, int, int, str]] = []
    own_meta = meta_key(partition)
    latest: dict[str, Any] | None = None  # the meta with the highest next_offset
    for key, value in items:
        if value is None:
            continue
        m: dict[str, Any] | None = None
        if key.startswith(EXEC_PREFIX):
            obj: dict[str, Any] = orjson.loads(value)
            if int(obj["p"]) != partition:
                continue
            exec_id = key[len(EXEC_PREFIX) :].decode("utf-8")
            if "closed" in obj:
                ms, max_seq, n = obj["closed"]
                tombstones.append((int(n), int(ms), int(max_seq), exec_id))
            else:
                ex = exec_from_json(obj["s"])
                execs[ex.execution_id] = ex
            m = obj.get("m")
        elif key == own_meta:
            m = orjson.loads(value)
        if m is not None and (latest is None or m["next_offset"] > latest["next_offset"]):
            latest = m
    meta = PartitionMeta(partition)
    if latest is not None:
        meta = PartitionMeta(
            partition,
            stream_ms=latest["stream_ms"],
            next_offset=latest["next_offset"],
            released=latest["released"],
            events=latest["events"],
            ticks=latest["ticks"],
            duplicates=latest["duplicates"],
            after_close=latest["after_close"],
            late_events=latest["late_events"],
        )
    tombstones.sort()  # release order, exactly as the live fold inserted them
    meta.closed = {exec_id: (ms, max_seq, n) for n, ms, max_seq, exec_id in tombstones}
    if tombstones:
        meta.released = max(meta.released, tombstones[-1][0] + 1)
    state = PartitionState(meta, dict(sorted(execs.items())))
    state.reindex()
    return state
