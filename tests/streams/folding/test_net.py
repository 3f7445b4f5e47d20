"""The exception net (streams/folding/net.py): an event whose fold raises is
dead-lettered as fold_error and the partition goes on as if it had never arrived —
offline and in LivePartition (worker and replay), compiled and pure, whatever the
checkpoints."""

from __future__ import annotations

import base64

import orjson
import pytest

from processors.config import FoldConfig
from processors.timers import WINDOW, set_timer
from streams.folding.changelog import encode_exec
from streams.folding.net import error_text
from streams.folding.offline import OfflineFold
from streams.folding.partition import LivePartition
from streams.kafka.partitioner import partition_for
from streams.testing import batched, generate, goal_g_line
from tests.streams.faults import MARK, injected

PARTITIONS = 3
CFG = FoldConfig()


def _poisoned(n_events: int = 1_500, every: int = 97) -> tuple[list[bytes], list[bytes]]:
    """A log with some decisions marked (the fault fires on them), and the same log
    without them: what folding the first must equal, apart from its dead letters."""
    marked, clean = [], []
    decisions = 0
    for line in generate(n_events, 30, seed=11):
        ev = orjson.loads(line)
        if ev["type"] == "agentfold.decision":
            decisions += 1
            if decisions % every == 5:
                ev["id"] = MARK + ev["id"]
                marked.append(orjson.dumps(ev))
                continue
        marked.append(line)
        clean.append(line)
    assert len(marked) - len(clean) >= 3
    return marked, clean


def _offline(lines: list[bytes], cfg: FoldConfig = CFG) -> tuple[list[dict], list[dict]]:
    """The lines folded offline after the runs' goal is defined (goal tallies too)."""
    folder = OfflineFold(cfg, PARTITIONS)
    out = [(e.partition, e.record) for e in folder.feed_lines([goal_g_line(), *lines])]
    dead = [r.value for _, r in out if r.topic == "deadletter"]
    rest = [{"p": p, "topic": r.topic, **r.value} for p, r in out if r.topic != "deadletter"]
    return rest, dead


def _states(folds: list) -> list[bytes]:
    return [encode_exec(0, ex) for f in folds for _, ex in sorted(f.state.execs.items())]


@pytest.mark.parametrize("journal", [CFG.journal_max_bytes, 2_000])
def test_offline_leaves_the_event_out_and_goes_on(journal: int) -> None:
    marked, clean = _poisoned()
    cfg = CFG.model_copy(update={"journal_max_bytes": journal})
    want, none = _offline(clean, cfg)
    assert none == []
    with injected():
        got, dead = _offline(marked, cfg)
    assert got == want  # every other output, in order, as if the events never arrived
    assert len(dead) == len(marked) - len(clean)
    for letter in dead:
        assert letter["reason"] == "fold_error"
        assert "RuntimeError: injected fault" in letter["error"]
        assert "it was left out" in letter["error"]
        original = orjson.loads(base64.b64decode(letter["original"]))
        assert original["id"].startswith(MARK) and letter["key"] == original["subject"]


def test_offline_state_is_as_if_the_event_never_arrived() -> None:
    marked, clean = _poisoned()
    want = OfflineFold(CFG, PARTITIONS)
    list(want.feed_lines(clean))
    with injected():
        got = OfflineFold(CFG, PARTITIONS)
        list(got.feed_lines(marked))
    assert got.recoveries == len(marked) - len(clean)
    assert _states(got.folds) == _states(want.folds)


def _live(messages: list[bytes], flush_every: int, cfg: FoldConfig = CFG) -> tuple[list, list]:
    """Fold messages through one LivePartition per partition, flushing every
    `flush_every` messages: outputs (without origins) and dead letters."""
    lives = [LivePartition(cfg, p) for p in range(PARTITIONS)]
    outputs, dead = [], []
    for p, live in enumerate(lives):  # the runs' goal, defined in every partition
        for r in live.process(None, goal_g_line(), "t", 0).outputs:
            outputs.append((p, r.topic, r.value))
    offsets = [1] * PARTITIONS
    for i, value in enumerate(messages):
        first = orjson.loads(value)
        subject = (first[0] if isinstance(first, list) else first)["subject"]
        p = partition_for(subject, PARTITIONS)
        result = lives[p].process(subject.encode(), value, "t", offsets[p])
        offsets[p] += 1
        for r in result.outputs:
            (dead if r.topic == "deadletter" else outputs).append((p, r.topic, r.value))
        if i % flush_every == 0:
            lives[p].flush()
    return outputs, dead, lives  # type: ignore[return-value]


def _without_marked(messages: list[bytes]) -> list[bytes]:
    """The same messages, each without its marked events (gone if none is left)."""
    out = []
    for m in messages:
        events = [e for e in orjson.loads(m) if not e["id"].startswith(MARK)]
        if events:
            out.append(orjson.dumps(events))
    return out


@pytest.mark.parametrize("flush_every", [1, 7, 10_000])
@pytest.mark.parametrize("batch", [1, 8])
def test_live_partition_leaves_the_event_out(flush_every: int, batch: int) -> None:
    marked, clean = _poisoned()
    messages = batched(marked, batch)
    want, none, want_lives = _live(_without_marked(messages), flush_every)
    assert none == []
    with injected():
        got, dead, got_lives = _live(messages, flush_every)
    assert got == want
    assert [d[2]["reason"] for d in dead] == ["fold_error"] * (len(marked) - len(clean))
    assert all("#e" in d[2]["id"] for d in dead)
    assert sum(live.recoveries for live in got_lives) == len(dead)
    assert _states([lv.fold for lv in got_lives]) == _states([lv.fold for lv in want_lives])
    # What a worker writes after a recovery restores to the same state.
    for lv in got_lives:
        lv.flush()


def test_offline_lines_of_many_events_leave_the_event_out() -> None:
    """A line is a message: its goal tally is emitted at its end, and a rollback in the
    middle of a line refolds the line's earlier events into the same tally."""
    marked, clean = _poisoned()
    lines = batched(marked, 8)
    cfg = CFG.model_copy(update={"journal_max_bytes": 2_000})
    want, _ = _offline(_without_marked(lines), cfg)
    with injected():
        got, dead = _offline(lines, cfg)
    assert got == want and len(dead) == len(marked) - len(clean)
    tallies = [r for r in got if r["topic"] == "goalfacts" and r["kind"] == "tally"]
    assert len(tallies) < len(lines) and any(t["decided"] for t in tallies)
    assert sum(t["decisions"] for t in tallies) == sum(
        1 for line in clean if b"agentfold.decision" in line
    )


def test_live_and_offline_agree() -> None:
    marked, _ = _poisoned()
    with injected():
        live_out, live_dead, _ = _live(marked, 5)
        off_out, off_dead = _offline(marked)
    assert [(p, t, v) for p, t, v in live_out] == [
        (r["p"], r["topic"], {k: v for k, v in r.items() if k not in ("p", "topic")})
        for r in off_out
    ]
    strip = ("id", "origin")
    assert [{k: v for k, v in d[2].items() if k not in strip} for d in live_dead] == [
        {k: v for k, v in d.items() if k not in strip} for d in off_dead
    ]


def test_a_timer_that_raises_is_dropped_and_the_event_folded() -> None:
    """A corrupt timer (here: a window timer whose name is not a window) raises when
    time reaches it: charged to the timer, not to the event that moved time."""
    lines = generate(400, 4, seed=2)
    events: list[bytes] = lines[:200]
    live = LivePartition(CFG, 0, check_keys=False)
    for offset, value in enumerate(events):
        live.process(None, value, "t", offset)
    state = live.fold.state
    victim = sorted(state.execs)[0]
    ex = state.execs[victim]
    deadline = state.meta.stream_ms + 1
    set_timer(state, ex, WINDOW + "corrupt", deadline)
    state.touched.add(victim)
    live.flush()  # the corrupt timer is in the checkpoint: a rollback brings it back
    result = live.process(None, lines[200], "t", 200)
    dead = [r.value for r in result.outputs if r.topic == "deadletter"]
    assert len(dead) == 1, dead
    (letter,) = dead
    assert letter["reason"] == "fold_error" and letter["key"] == victim
    timer = WINDOW + "corrupt"
    assert f"timer {timer!r}" in letter["error"] and "ValueError" in letter["error"]
    assert letter["id"].endswith(f"/timer:{timer}@{victim}")
    assert result.events == 1 and live.fold.state.meta.events == 201  # the event folded
    assert timer not in live.fold.state.execs[victim].timers
    for offset in range(201, 400):  # and the partition goes on
        more = live.process(None, lines[offset], "t", offset)
        assert not [r for r in more.outputs if r.topic == "deadletter"]


def test_error_text_is_the_same_in_every_process() -> None:
    class Thing:
        pass

    text = error_text(TypeError(f"bad {Thing()!r}"))
    assert "0x…" in text and "TypeError: bad" in text
    assert len(error_text(ValueError("x" * 5000))) == 400


def test_the_fold_never_changes_its_input_events() -> None:
    """The offline journal keeps an event fed without its line (`feed_event`) and
    refolds it after a rollback: that is sound only if folding leaves every event as
    it was."""
    from schemas.codec import decode_message, encode_event
    from streams.testing import hostile

    events = [e for m in hostile(600, seed=4) for e in decode_message(m.value).events]
    events += [e for line in generate(1_500, 20, seed=9) for e in decode_message(line).events]
    before = [encode_event(e) for e in events]
    folder = OfflineFold(CFG, PARTITIONS)
    for e in events:
        list(folder.feed_event(e))
    assert [encode_event(e) for e in events] == before


def test_the_offline_journal_keeps_lines_not_their_decoded_events() -> None:
    """Decoded events are several times their line's bytes, and the garbage collector
    walks every one kept: the journal holds the lines and decodes them again on a
    rollback, so nothing of a folded line's events outlives its fold."""
    import gc

    from schemas.records import KIND_OF

    kinds = tuple(KIND_OF)

    def alive() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) in kinds)

    folder = OfflineFold(CFG, PARTITIONS)
    lines = generate(3_000, 30, seed=1)
    before = alive()
    assert list(folder.feed_lines(lines))
    assert sum(len(c.journal) for c in folder._checkpoints) == len(lines)  # not checkpointed
    assert alive() - before < 10
