"""LivePartition: raw messages → outputs; state flushes → table; restore from the table.

The crash model tested here is the worker's: the outputs of the messages a flush covers
are delivered before its records; the records are appended in order to one changelog
partition, so a crash keeps a prefix of them; the consumer restarts at its committed
offset, at or after the last flush, or anywhere a rebalance puts it.
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
from streams.folding.changelog import (
    decode_exec,
    encode_exec,
    encode_exec_record,
    encode_tombstone,
    meta_dict,
    restore,
    restore_partition,
)
from streams.folding.offline import OfflineFold
from streams.folding.partition import LivePartition, Writes
from streams.kafka.partitioner import partition_for
from tests.processors.test_laws import build_log, step_st

CFG = FoldConfig()
TINY_BUDGET = FoldConfig(state_max_bytes=1600, payload_max_bytes=400)
FLEET = Path(__file__).resolve().parents[3] / "examples" / "fleet.jsonl"
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
    live: LivePartition,
    msgs: list[Msg],
    start: int = 0,
    skip_dead: bool = False,
    flush_every: int = 1,
) -> tuple[list[bytes], list[Writes]]:
    """Drive like the worker: a message past `live.expected` first gets its gap folded;
    state is flushed after every `flush_every` messages (and at the end)."""
    outputs: list[bytes] = []
    flushes: list[Writes] = []
    todo = list(range(start, len(msgs)))
    if todo and todo[0] > live.expected:
        todo = list(range(live.expected, todo[0])) + todo  # the worker fetches the gap
    for n, offset in enumerate(todo, 1):
        key, value = msgs[offset]
        result = live.process(key, value, "agentfold.telemetry", offset)
        outputs += [
            orjson.dumps(r.value, option=orjson.OPT_SORT_KEYS)
            for r in result.outputs
            if not (skip_dead and r.topic == "deadletter")
        ]
        if n % flush_every == 0 or n == len(todo):
            flushes.append(live.flush())
    return outputs, flushes


def apply(table: dict[bytes, bytes], writes: Writes) -> dict[bytes, bytes]:
    for key, value in writes:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return table


def table_after(flushes: list[Writes]) -> dict[bytes, bytes]:
    table: dict[bytes, bytes] = {}
    for writes in flushes:
        apply(table, writes)
    return table


def snapshot(live: LivePartition) -> tuple[dict[str, bytes], dict[str, int]]:
    """Everything restore must give back, encoded: states, tombstones, the position."""
    state = live.fold.state
    values = {k: encode_exec(0, ex) for k, ex in state.execs.items()}
    values.update({k: encode_tombstone(0, c) for k, c in state.meta.closed.items()})
    return values, meta_dict(state.meta)


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


def test_a_flush_writes_each_changed_execution_once_then_the_commit_record() -> None:
    lines = [line for line in FLEET.read_bytes().splitlines() if line.strip()]
    msgs = messages_for(0, 1, lines)
    live = LivePartition(CFG.model_copy(update={"closed_cap": 3}), 0)
    messages = records = 0
    for first in range(0, len(msgs), 40):
        touched: set[bytes] = set()
        for offset in range(first, min(first + 40, len(msgs))):
            key, value = msgs[offset]
            live.process(key, value, "t", offset)
            touched |= {b"x:" + k.encode() for k in live.fold.state.touched}
        writes = live.flush()
        (
            *records_,
            (commit_key, commit),
        ) = [w for w in writes if w[1] is not None]
        tombstones = [k for k, v in writes if v is None]
        assert commit_key == b"m:0" and orjson.loads(commit)["next_offset"] == live.expected
        keys = [k for k, _ in records_]
        assert len(keys) == len(set(keys)) and set(keys) <= touched
        assert writes[: len(records_) + 1] == [*records_, (commit_key, commit)]  # commit last
        nulls = {k for k, v in records_ if v is not None and orjson.loads(v)["v"] is None}
        assert set(tombstones) == nulls  # forgotten keys are deleted after the commit
        messages += min(40, len(msgs) - first)
        records += len(records_)
    assert records < messages / 2  # executions touched by several messages: written once
    assert live.flush() == []  # nothing changed since


def test_every_cut_of_a_flush_restores_the_previous_flush_whole() -> None:
    """A crash keeps a prefix of a flush's records: restore must give exactly the state
    of the last complete flush — every execution, tombstone and the position."""
    lines = [line for line in FLEET.read_bytes().splitlines() if line.strip()]
    msgs = messages_for(0, 1, lines)
    for cfg, every in ((CFG, 7), (CFG.model_copy(update={"closed_cap": 1}), 3)):
        live = LivePartition(cfg, 0)
        table: dict[bytes, bytes] = {}
        committed = snapshot(live)
        cuts = 0
        for first in range(0, len(msgs), every):
            for offset in range(first, min(first + every, len(msgs))):
                live.process(*msgs[offset], "t", offset)
            writes = live.flush()
            commit = next(i for i, (k, _) in enumerate(writes) if k == b"m:0")
            for cut in range(len(writes)):
                again = LivePartition(cfg, 0, apply(dict(table), writes[:cut]).items())
                # past the commit record only Kafka tombstones of forgotten keys follow
                expected = committed if cut <= commit else snapshot(live)
                assert snapshot(again) == expected, (first, cut)
                cuts += 1
            apply(table, writes)
            committed = snapshot(live)
            restored = LivePartition(cfg, 0, table.items())
            assert snapshot(restored) == committed
            assert restored.expected == min(first + every, len(msgs))
        assert cuts > 2 * (len(msgs) // every)  # flushes of several records each


def test_a_rolled_back_flush_is_rewritten_by_the_next_flush() -> None:
    """Records of a flush cut short stay in the table, standing for their old values;
    the next flush after the restart writes those keys again, under its own epoch."""
    lines = [line for line in FLEET.read_bytes().splitlines() if line.strip()]
    msgs = messages_for(0, 1, lines)[:120]
    live = LivePartition(CFG, 0)
    _, flushes = run(live, msgs[:60], flush_every=60)
    table = table_after(flushes)
    for offset in range(60, 120):
        live.process(*msgs[offset], "t", offset)
    cut = live.flush()[:-1]  # all but the commit record (and tombstones) landed
    assert len(cut) > 3
    apply(table, cut)
    again = LivePartition(CFG, 0, table.items())
    assert again.expected == 60
    assert again.dirty >= len([k for k, v in cut if v is not None])
    again.process(*msgs[60], "t", 60)  # one message, then a complete flush
    apply(table, again.flush())
    assert snapshot(LivePartition(CFG, 0, table.items())) == snapshot(again)


def test_records_written_before_flushes_existed_still_restore() -> None:
    """Changelogs of earlier versions: values with the position riding along as "m"."""
    lines = [line for line in FLEET.read_bytes().splitlines() if line.strip()]
    live = LivePartition(CFG, 0, check_keys=False)
    for offset, line in enumerate(lines[:150]):
        live.process(None, line, "t", offset)
    state = live.fold.state
    m = meta_dict(state.meta)

    def old_format(value: bytes) -> bytes:  # the position rode along as "m"
        return orjson.dumps({**orjson.loads(value), "m": m})

    old = {b"x:" + k.encode(): old_format(encode_exec(0, ex)) for k, ex in state.execs.items()}
    old.update(
        {
            b"x:" + k.encode(): old_format(encode_tombstone(0, c))
            for k, c in state.meta.closed.items()
        }
    )
    old[b"m:0"] = orjson.dumps(m)  # the partition's own key: a bare position, no flush number
    restored = restore(0, old.items())
    assert restored.committed == {} and not restored.rewrite
    assert snapshot(LivePartition(CFG, 0, old.items())) == snapshot(live)


def test_offset_guard_skips_applied_input_and_reports_gaps() -> None:
    from streams.folding.partition import OffsetGap

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
    ((key, commit),) = live.flush()  # only the input position moved
    assert key == b"m:3" and orjson.loads(commit)["next_offset"] == 42


def test_state_codec_round_trips_every_field() -> None:
    lines = [line for line in FLEET.read_bytes().splitlines() if line.strip()]
    live = LivePartition(CFG, 0, check_keys=False)
    for offset, line in enumerate(lines[:150]):
        live.process(None, line, "t", offset)
    for ex in live.fold.state.execs.values():
        assert decode_exec(encode_exec(0, ex)) == (0, ex)
        record = encode_exec_record(0, "e1", 3, encode_exec(0, ex), None)
        assert decode_exec(record) == (0, ex)


def _split_run(
    msgs: list[Msg], crash_at: int, kept_writes: int, resume_at: int, every: int, cfg: FoldConfig
) -> list[bytes]:
    first = LivePartition(cfg, 0)
    out1, flushes = run(first, msgs[: crash_at + 1], flush_every=every)
    # the crash: the last flush was cut after `kept_writes` of its records
    flushes[-1] = flushes[-1][:kept_writes]
    second = LivePartition(cfg, 0, table_after(flushes).items())
    out2, _ = run(second, msgs, start=resume_at, flush_every=every)
    return dedup(out1 + out2)


LAW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@LAW
@given(st.lists(step_st, min_size=2, max_size=50), st.data())
def test_crash_and_restart_anywhere_gives_the_uninterrupted_outputs(steps: list, data: Any) -> None:
    log = build_log(steps)
    msgs: list[Msg] = [((e.subject or "").encode() or None, encode_event(e)) for e in log]
    # a state budget so small that the fold sheds often: measurements and shedding must
    # happen at the same events after a restore
    cfg = data.draw(st.sampled_from([CFG, TINY_BUDGET]), label="config")
    straight, _ = run(LivePartition(cfg, 0), msgs)
    crash_at = data.draw(st.integers(0, len(msgs) - 1), label="crash at")
    every = data.draw(st.integers(1, 12), label="messages per flush")
    kept = data.draw(st.integers(0, 8), label="records kept of the last flush")
    # The consumer resumes at its committed offset (at or before the crash) — or, as
    # Faust does around rebalances, skips ahead: the driver folds the gap when the next
    # message shows it (the worker's idle ticks guarantee a next message).
    resume = data.draw(st.integers(max(0, crash_at - 3), len(msgs) - 1), label="resume at")
    assert _split_run(msgs, crash_at, kept, resume, every, cfg) == dedup(straight)


def _log_of(flushes: list[Writes]) -> Writes:
    return [w for writes in flushes for w in writes]


@LAW
@given(st.lists(step_st, min_size=2, max_size=50), st.data())
def test_a_predecessors_late_records_never_become_committed(steps: list, data: Any) -> None:
    """A killed worker's last records can land after its successor read the changelog
    (though before it writes: a dead process's socket drains in milliseconds): records
    of a flush whose commit record had not been sent. The successor never saw them, so
    they must never become committed by its own commits — with one flush counter they
    did, the successor reusing their flush number. A later restart, seeing everything,
    must still resume exactly."""
    log = build_log(steps)
    msgs: list[Msg] = [((e.subject or "").encode() or None, encode_event(e)) for e in log]
    cfg = data.draw(st.sampled_from([CFG, TINY_BUDGET]), label="config")
    straight_live = LivePartition(cfg, 0)
    straight, _ = run(straight_live, msgs)
    every = data.draw(st.integers(1, 8), label="messages per flush")
    # incarnation A folds a while and is killed: some of its records reached the broker
    crash_a = data.draw(st.integers(0, len(msgs) - 1), label="A killed after")
    out_a, flushes_a = run(LivePartition(cfg, 0), msgs[: crash_a + 1], flush_every=every)
    log_a = _log_of(flushes_a)
    written_a = data.draw(st.integers(0, len(log_a)), label="A's records written")
    # what lands late is the tail after A's last commit record that made it
    commits = [i for i, (k, _) in enumerate(log_a[:written_a]) if k == b"m:0"]
    first_late = commits[-1] + 1 if commits else 0
    seen = data.draw(st.integers(first_late, written_a), label="of them, seen by B's restore")
    # incarnation B restores from what it saw, resumes at the group's committed offset
    b = LivePartition(cfg, 0, table_after([log_a[:seen]]).items())
    resume_b = data.draw(st.integers(max(0, crash_a - 3), crash_a), label="B resumes at")
    crash_b = data.draw(st.integers(resume_b, len(msgs) - 1), label="B killed after")
    out_b, flushes_b = run(b, msgs[: crash_b + 1], start=resume_b, flush_every=every)
    log_b = _log_of(flushes_b)
    written_b = data.draw(st.integers(0, len(log_b)), label="B's records written")
    changelog = log_a[:written_a] + log_b[:written_b]
    # incarnation C restores from everything and runs to the end
    c = LivePartition(cfg, 0, table_after([changelog]).items())
    resume_c = data.draw(st.integers(max(0, crash_b - 3), crash_b), label="C resumes at")
    out_c, _ = run(c, msgs, start=resume_c, flush_every=every)
    assert snapshot(c) == snapshot(straight_live)
    assert dedup(out_a + out_b + out_c) == dedup(straight)


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
    from streams.testing import batched, generate

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
    from streams.testing import batched, generate

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
        live.process(key, value, "t", offset)
        if offset % 20 == 19 or offset == len(messages) - 1:
            apply(table, live.flush())
            peak = max(peak, len(table))
    live_state = [
        k
        for k, v in table.items()
        if k.startswith(b"x:")
        and orjson.loads(v)["v"] is not None
        and "closed" not in orjson.loads(v)["v"]
    ]
    assert live_state == []
    assert live.fold.state.execs == {} and live.fold.state.open_actions == {}
    assert len(table) <= 1 + CFG.closed_cap  # tombstones (bounded) and the partition record
    assert peak <= 1 + 1000 + CFG.closed_cap
