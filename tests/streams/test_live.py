"""LivePartition: raw messages → outputs + ordered writes; restore from table writes.

The crash model tested here is the worker's: outputs of a message are delivered before
its writes; writes are appended in order to one changelog partition, so a crash keeps
a prefix of them; the consumer restarts at some message at or before the crash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.config import FoldConfig
from schemas.codec import encode_event
from streams.live import LivePartition
from streams.offline import OfflineFold
from streams.partitioner import partition_for
from streams.state_codec import decode_exec, encode_exec, restore_partition
from tests.processors.test_laws import build_log, step_st

CFG = FoldConfig()
FLEET = Path(__file__).resolve().parents[2] / "examples" / "fleet.jsonl"
Msg = tuple[bytes | None, bytes]


def messages_for(partition: int, partitions: int, lines: list[bytes]) -> list[Msg]:
    """The messages of one partition, keyed by subject (ticks: every partition)."""
    out: list[Msg] = []
    for line in lines:
        try:
            obj: Any = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # malformed lines: covered by the dead-letter tests
        first = obj[0] if isinstance(obj, list) else obj
        subject = first.get("subject")
        if subject is None:
            out.append((None, line))
        elif partition_for(subject, partitions) == partition:
            out.append((subject.encode(), line))
    return out


def run(
    live: LivePartition, msgs: list[Msg], start: int = 0, skip_dead: bool = False
) -> tuple[list[bytes], list]:
    """Drive like the worker: a message past `live.expected` first gets its gap folded."""
    outputs: list[bytes] = []
    writes: list = []
    todo = list(range(start, len(msgs)))
    if todo and todo[0] > live.expected:
        todo = list(range(live.expected, todo[0])) + todo  # the worker fetches the gap
    for offset in todo:
        key, value = msgs[offset]
        result = live.process(key, value, "agentfold.telemetry", offset)
        outputs += [
            orjson.dumps(r.value, option=orjson.OPT_SORT_KEYS)
            for r in result.outputs
            if not (skip_dead and r.topic == "deadletter")
        ]
        writes.append(result.writes)
    return outputs, writes


def table_after(writes: list[list[tuple[bytes, bytes | None]]]) -> dict[bytes, bytes]:
    table: dict[bytes, bytes] = {}
    for message_writes in writes:
        for key, value in message_writes:
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
    return table


def dedup(outputs: list[bytes]) -> list[bytes]:
    seen: set[str] = set()
    kept = []
    for raw in outputs:
        rid = orjson.loads(raw)["id"]
        if rid not in seen:
            seen.add(rid)
            kept.append(raw)
    return kept


def test_live_equals_offline_fold_of_the_fleet_per_partition() -> None:
    lines = [line for line in FLEET.read_bytes().splitlines() if line.strip()]
    folder = OfflineFold(CFG, 4)
    offline: dict[int, list[bytes]] = {p: [] for p in range(4)}
    for emitted in folder.feed_lines(lines):
        if emitted.record.topic != "deadletter":
            offline[emitted.partition].append(
                orjson.dumps(emitted.record.value, option=orjson.OPT_SORT_KEYS)
            )
    for p in range(4):
        live_out, _ = run(LivePartition(CFG, p), messages_for(p, 4, lines), skip_dead=True)
        assert live_out == offline[p], f"partition {p}"


def _meta_of(key: bytes, value: bytes | None) -> int | None:
    """The next_offset a write carries (None: it carries no meta)."""
    if value is None:
        return None
    obj = orjson.loads(value)
    if key.startswith(b"m:"):
        return int(obj["next_offset"])
    return int(obj["m"]["next_offset"]) if "m" in obj else None


def test_writes_once_per_execution_and_the_last_write_says_the_message_is_done() -> None:
    lines = [line for line in FLEET.read_bytes().splitlines() if line.strip()]
    msgs = messages_for(0, 1, lines)
    live = LivePartition(CFG, 0)
    single = 0
    for offset, (key, value) in enumerate(msgs):
        result = live.process(key, value, "t", offset)
        keys = [k for k, _ in result.writes if k.startswith(b"x:")]
        assert len(keys) == len(set(keys))
        *earlier, last = result.writes
        assert _meta_of(*last) == offset + 1
        assert all(_meta_of(k, v) in (None, offset) for k, v in earlier)
        if key is not None and result.events and any(k == b"x:" + key for k in keys):
            assert b"x:" + key in (last[0], earlier[-1][0] if earlier else None)
        single += len(result.writes) == 1
    assert single > len(msgs) / 2  # most messages: one record, the meta riding along


@pytest.mark.parametrize("closed_cap", [CFG.closed_cap, 1])  # 1: tombstones get deleted
def test_restore_after_any_cut_resumes_at_the_first_unfinished_message(closed_cap: int) -> None:
    cfg = CFG.model_copy(update={"closed_cap": closed_cap})
    lines = [line for line in FLEET.read_bytes().splitlines() if line.strip()]
    msgs = messages_for(0, 1, lines)[:300]
    live = LivePartition(cfg, 0)
    table: dict[bytes, bytes] = {}
    deletes = 0
    for offset, (key, value) in enumerate(msgs):
        writes = live.process(key, value, "t", offset).writes
        deletes += sum(v is None for _, v in writes)
        for cut in range(len(writes)):
            partial = dict(table)
            for k, v in writes[:cut]:
                if v is None:
                    partial.pop(k, None)
                else:
                    partial[k] = v
            assert LivePartition(cfg, 0, partial.items()).expected == offset
        for k, v in writes:
            if v is None:
                table.pop(k, None)
            else:
                table[k] = v
        assert LivePartition(cfg, 0, table.items()).expected == offset + 1
    assert (deletes > 0) == (closed_cap == 1)


def test_offset_guard_skips_applied_input_and_reports_gaps() -> None:
    from streams.live import OffsetGap

    a = (
        b'{"specversion":"1.0","id":"1","source":"s","type":"agentfold.tick",'
        b'"time":"2026-11-22T10:00:00Z"}'
    )
    live = LivePartition(CFG, 0)
    assert not live.process(None, a, "t", 0).skipped
    assert live.process(None, a, "t", 0).skipped  # redelivered: nothing happens
    with pytest.raises(OffsetGap) as gap:
        live.process(None, a, "t", 5)
    assert (gap.value.expected, gap.value.got) == (1, 5)
    assert not live.process(None, a, "t", 5, allow_gap=True).skipped  # retention removed 1-4
    assert live.expected == 6


def test_bad_messages_become_dead_letters_with_coordinates() -> None:
    live = LivePartition(CFG, 3)
    result = live.process(b"exec-1", b"{oops", "agentfold.telemetry", 41, allow_gap=True)
    (dl,) = result.outputs
    assert dl.value["origin"] == {
        "topic": "agentfold.telemetry",
        "partition": 3,
        "offset": 41,
        "file": None,
        "line": None,
        "index": None,
    }
    assert result.rejected == {"invalid_json": 1}
    assert [k for k, _ in result.writes] == [b"m:3"]  # only the input position moved
    assert _meta_of(*result.writes[0]) == 42


def test_state_codec_round_trips_every_field() -> None:
    lines = [line for line in FLEET.read_bytes().splitlines() if line.strip()]
    live = LivePartition(CFG, 0, check_keys=False)
    for offset, line in enumerate(lines[:150]):
        live.process(None, line, "t", offset)
    for ex in live.fold.state.execs.values():
        p, again = decode_exec(encode_exec(0, ex))
        assert (p, again) == (0, ex)


def _split_run(msgs: list[Msg], crash_at: int, kept_writes: int, resume_at: int) -> list[bytes]:
    first = LivePartition(CFG, 0)
    out1, writes = run(first, msgs[: crash_at + 1])
    # the crash: the last message's writes were cut after `kept_writes` of them
    writes[-1] = writes[-1][:kept_writes]
    second = LivePartition(CFG, 0, table_after(writes).items())
    out2, _ = run(second, msgs, start=resume_at)
    return dedup(out1 + out2)


LAW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@LAW
@given(st.lists(step_st, min_size=2, max_size=50), st.data())
def test_crash_and_restart_anywhere_gives_the_uninterrupted_outputs(steps: list, data: Any) -> None:
    log = build_log(steps)
    msgs: list[Msg] = [((e.subject or "").encode() or None, encode_event(e)) for e in log]
    straight, _ = run(LivePartition(CFG, 0), msgs)
    crash_at = data.draw(st.integers(0, len(msgs) - 1), label="crash at")
    kept = data.draw(st.integers(0, 8), label="writes kept of the last message")
    # The consumer resumes at its committed offset (at or before the crash) — or, as
    # Faust does around rebalances, skips ahead: the driver folds the gap when the next
    # message shows it (the worker's idle ticks guarantee a next message).
    resume = data.draw(st.integers(max(0, crash_at - 3), len(msgs) - 1), label="resume at")
    assert _split_run(msgs, crash_at, kept, resume) == dedup(straight)


def test_restore_ignores_other_partitions_and_rebuilds_timers() -> None:
    lines = [line for line in FLEET.read_bytes().splitlines() if line.strip()]
    live = LivePartition(CFG, 1, check_keys=False)
    for offset, line in enumerate(lines[:100]):
        live.process(None, line, "t", offset)
    state = live.fold.state
    table = {b"x:" + k.encode(): encode_exec(1, v) for k, v in state.execs.items()}
    table[b"x:foreign"] = encode_exec(2, next(iter(state.execs.values())))
    restored = restore_partition(1, table.items())
    assert set(restored.execs) == set(state.execs)
    assert sorted(restored.heap) == sorted(
        (d, ex.execution_id, t) for ex in state.execs.values() for t, d in ex.timers.items()
    )


def test_batched_messages_give_the_same_records_as_single_events() -> None:
    """Outputs must not alias fold state: live serialises a batch's outputs after the
    whole message, so a later event in the batch must not leak into an earlier record."""
    from streams.synthetic import batched, generate

    lines = generate(3000, 40, seed=3)
    messages = batched(lines, 25)
    folder = OfflineFold(CFG, 1)
    expected = [
        orjson.dumps(e.record.value, option=orjson.OPT_SORT_KEYS) for e in folder.feed_lines(lines)
    ]
    keyed = [(orjson.loads(m)[0]["subject"].encode(), m) for m in messages]
    got, _ = run(LivePartition(CFG, 0), keyed)
    assert sorted(got) == sorted(expected)


def test_completed_executions_leave_only_tombstones_in_the_table() -> None:
    """~100,000 events; every run ends; once their timers fire, the table holds no state."""
    from streams.synthetic import batched, generate

    lines = generate(100_000, 1000, seed=5)
    last_seq: dict[str, int] = {}
    for line in lines:
        obj = orjson.loads(line)
        last_seq[obj["subject"]] = obj["seq"]
    enders = [
        orjson.dumps(
            {
                "specversion": "1.0",
                "id": f"{s}-end",
                "source": "a",
                "subject": s,
                "type": "agentfold.run_ended",
                "time": "2026-11-23T00:00:00Z",
                "seq": n + 1,
                "data": {"success": True},
            }
        )
        for s, n in sorted(last_seq.items())
    ]
    far_tick = (
        b'{"specversion":"1.0","id":"t","source":"w","type":"agentfold.tick",'
        b'"time":"2026-11-24T00:00:00Z"}'
    )
    messages = [(None, m) for m in batched(lines, 50)] + [(None, e) for e in enders]
    messages.append((None, far_tick))
    live = LivePartition(CFG, 0, check_keys=False)
    table: dict[bytes, bytes] = {}
    peak = 0
    for offset, (key, value) in enumerate(messages):
        for k, v in live.process(key, value, "t", offset).writes:
            if v is None:
                table.pop(k, None)
            else:
                table[k] = v
        peak = max(peak, len(table))
    live_state = [k for k, v in table.items() if k.startswith(b"x:") and b'"closed"' not in v]
    assert live_state == []
    assert live.fold.state.execs == {} and live.fold.state.open_actions == {}
    assert len(table) <= 1 + CFG.closed_cap  # tombstones (bounded) and the partition record
    assert peak <= 1 + 1000 + CFG.closed_cap
