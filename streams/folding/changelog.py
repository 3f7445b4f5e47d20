"""Fold state ⇄ table bytes. Keys: b"x:<execution_id>" and b"m:<partition>" (the goal
stage keeps b"g:<goal_id>" and b"n:<partition>" in the same changelog:
streams/worker/goals.py).

The worker writes state in *flushes* (streams/live.py): every so often, each execution
changed since the last flush gets one record, then the partition's commit record
(b"m:<partition>": its position — next input offset, stream time, counters — and which
flushes are committed). A flush must land whole or not at all, across executions, and
one changelog partition gives no transactions. So an execution record carries both its
new value and the value it replaces (an undo log), and names its writer:

    b"x:<id>" → {"p": partition, "e": epoch, "f": flush, "v": value or null,
                 "u": previous or null}

Every worker incarnation writes under its own epoch (a random token) and numbers its
flushes from 0. The commit record holds "c", the committed flush number of every epoch
whose records still stand: a record stands for its "v" when its flush is committed
(f ≤ c[e]), else — a flush cut short by a crash, its commit never landed — for its "u",
the value as of the last commit, since a flush starts only after the previous one was
sent and a producer's records reach one partition in order. Such keys are rewritten by
the next flush. Flush numbers are never compared across epochs: a restarted worker may
restore from less than the whole changelog (a killed predecessor's last records can
land after it started, and a broker can report a partition's end short of the truth,
as the embedded one does, so that recovery stops early), and whatever it did not see
must not become committed by its own commits. With a single counter it did: the next
incarnation reused the flush numbers, and a predecessor's uncommitted records with the
same number looked committed.

A value is an execution's state ({"p", "s"}) or, once it has been released, its
tombstone ({"p", "closed": [ms, max_seq, n]}) — kept under the same key so that one
write moves an execution from live to closed; null means forgotten, and the key gets a
Kafka tombstone after the commit record. Records written by earlier versions restore:
flush records without an epoch belong to the epoch "" (a commit without "c" commits its
"f" for it), and records from before flushes (a value with the position "m" riding
along, the highest `next_offset` winning) stand as they are. States go through
`processors.state_json` both ways, field by field: the state classes may be compiled to
native classes (streams/native.py), which orjson's dataclass support and pydantic
cannot handle.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from processors.goals import definition_from_json, definition_json
from processors.state import ExecState, PartitionMeta, PartitionState
from processors.state_json import exec_from_json, exec_to_json
from schemas.canonical import exact_bytes

EXEC_PREFIX = b"x:"
META_PREFIX = b"m:"
GOAL_PREFIX = b"g:"
POSITION_PREFIX = b"n:"
_OPTS = orjson.OPT_NON_STR_KEYS


def exec_key(execution_id: str) -> bytes:
    return EXEC_PREFIX + execution_id.encode("utf-8")


def meta_key(partition: int) -> bytes:
    return META_PREFIX + str(partition).encode("ascii")


def position_key(partition: int) -> bytes:
    """The goal stage's position in its goalfacts partition."""
    return POSITION_PREFIX + str(partition).encode("ascii")


MetaDict = dict[str, Any]


def meta_dict(meta: PartitionMeta) -> MetaDict:
    # `closed` lives in the execution keys, not here (see module docstring).
    out: MetaDict = {
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
    if meta.goals or meta.facts:  # absent before goals existed, and where none are defined
        out["facts"] = meta.facts
        out["goals"] = [definition_json(d) for _, d in sorted(meta.goals.items())]
        if meta.evidence:  # copied: the fold goes on changing its lists
            out["evidence"] = {
                goal: {c: list(times) for c, times in by.items()}
                for goal, by in meta.evidence.items()
            }
    return out


def encode_exec(partition: int, ex: ExecState) -> bytes:
    # The partition is stored with the state: restoring never re-derives it from the
    # key, so producers with their own partitioning still restore correctly.
    return exact_bytes(orjson.dumps({"p": partition, "s": exec_to_json(ex)}, option=_OPTS))


def encode_tombstone(partition: int, closed: tuple[int, int, int, int]) -> bytes:
    # [ms, max_seq, n], and the number of runs under the id when a reused id made it > 1
    kept = closed if closed[3] != 1 else closed[:3]
    return exact_bytes(orjson.dumps({"p": partition, "closed": kept}))


def new_epoch() -> str:
    """A token naming one worker incarnation's flushes (hex: needs no JSON escaping)."""
    return uuid.uuid4().hex[:16]


def encode_exec_record(
    partition: int, epoch: str, flush: int, value: bytes | None, undo: bytes | None
) -> bytes:
    """An execution's record in flush `flush` of `epoch`: its value and the value it
    replaces, both already encoded (a value is encoded once per flush, never re-parsed)."""
    return b'{"p":%d,"e":"%s","f":%d,"v":%s,"u":%s}' % (
        partition,
        epoch.encode("ascii"),
        flush,
        b"null" if value is None else value,
        b"null" if undo is None else undo,
    )


def encode_commit(meta: MetaDict, committed: dict[str, int]) -> bytes:
    """The commit record: the position, and the committed flush of every epoch."""
    return exact_bytes(orjson.dumps({**meta, "c": committed}))


def decode_exec(raw: bytes) -> tuple[int, ExecState] | None:
    """The execution state an execution key's record holds — for a flush record, the
    value it writes — or None when that is a tombstone or the execution was forgotten."""
    obj: dict[str, Any] = orjson.loads(raw)
    value = obj["v"] if "f" in obj else obj
    if value is None or "s" not in value:
        return None
    return int(value["p"]), exec_from_json(value["s"])


@dataclass(slots=True)
class Restored:
    """A partition's state as of its last complete flush, and what the next flush needs."""

    state: PartitionState
    # epoch -> its committed flush, for the epochs whose records stand (the next
    # incarnation's commits carry these on, plus its own)
    committed: dict[str, int]
    flushed: dict[str, bytes]  # execution id -> its committed value, encoded
    rewrite: set[str]  # keys whose record is not their committed value (or is a null)


def restore_partition(partition: int, items: Iterable[tuple[bytes, bytes]]) -> PartitionState:
    """Rebuild one partition's state from table items (any partition's items may be mixed in)."""
    return restore(partition, items).state


def restore(partition: int, items: Iterable[tuple[bytes, bytes | None]]) -> Restored:
    """`restore_partition`, with the bookkeeping the worker's next flush needs."""
    own_meta = meta_key(partition)
    records: list[tuple[str, dict[str, Any]]] = []
    commit: dict[str, Any] | None = None
    for key, value in items:
        if value is None:
            continue
        if key.startswith(EXEC_PREFIX):
            obj: dict[str, Any] = orjson.loads(value)
            if int(obj["p"]) == partition:
                records.append((key[len(EXEC_PREFIX) :].decode("utf-8"), obj))
        elif key == own_meta:
            commit = orjson.loads(value)
    committed = commit_epochs(commit)
    standing: dict[str, int] = {}  # the epochs of the records that stand as written
    latest = commit  # the position with the highest next_offset
    execs: dict[str, ExecState] = {}
    tombstones: list[tuple[int, int, int, int, str]] = []
    flushed: dict[str, bytes] = {}
    rewrite: set[str] = set()
    for exec_id, obj in records:
        val: dict[str, Any] | None
        if "f" in obj:
            epoch = str(obj.get("e", ""))
            if int(obj["f"]) <= committed.get(epoch, -1):
                val = obj["v"]
                if val is None:
                    rewrite.add(exec_id)  # forgotten; its Kafka tombstone was lost
                else:
                    standing[epoch] = committed[epoch]
            else:
                val = obj["u"]  # from a flush that never committed: roll back
                rewrite.add(exec_id)
        else:  # written before flushes: the value, with the position riding along
            m = obj.pop("m", None)
            if m is not None and (latest is None or m["next_offset"] > latest["next_offset"]):
                latest = m
            val = obj
        if val is None:
            continue
        flushed[exec_id] = exact_bytes(orjson.dumps(val))
        if "closed" in val:
            ms, max_seq, n, *runs = val["closed"]
            tombstones.append((int(n), int(ms), int(max_seq), int(runs[0]) if runs else 1, exec_id))
        else:
            ex = exec_from_json(val["s"])
            execs[ex.execution_id] = ex
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
            facts=int(latest.get("facts", 0)),
            goals={str(g["goal_id"]): definition_from_json(g) for g in latest.get("goals", [])},
            evidence={
                str(goal): {str(c): [int(t) for t in times] for c, times in by.items()}
                for goal, by in latest.get("evidence", {}).items()
            },
        )
    tombstones.sort()  # release order, exactly as the live fold inserted them
    meta.closed = {exec_id: (ms, max_seq, n, runs) for n, ms, max_seq, runs, exec_id in tombstones}
    if tombstones:
        meta.released = max(meta.released, tombstones[-1][0] + 1)
    state = PartitionState(meta, dict(sorted(execs.items())))
    state.reindex()
    return Restored(state, standing, flushed, rewrite)


def commit_epochs(commit: dict[str, Any] | None) -> dict[str, int]:
    """epoch -> committed flush, from a commit record of any version."""
    if commit is None:
        return {}
    if "c" in commit:
        return {str(e): int(f) for e, f in commit["c"].items()}
    return {"": int(commit["f"])} if "f" in commit else {}
