"""Partition-level fold behaviour: de-duplication, timers, state release, purity."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

from processors.config import FoldConfig
from processors.fold import PartitionFold
from processors.state import PartitionMeta, PartitionState
from schemas.codec import decode_event
from schemas.outputs import HEALING, RUNS, STAGNATION
from tests.factory import Agent, fold_all, tick, values

PROCESSORS = pathlib.Path(__file__).resolve().parents[2] / "processors"


def test_redelivered_event_changes_nothing() -> None:
    a = Agent()
    d, e = a.decide(1)
    o = a.outcome(2, d, False)
    fold, out = fold_all([a.start(0), e, o, o, e, a.end(3)])
    ended = values(out, RUNS)[-1]
    assert (ended.metrics.total_decisions, ended.metrics.failed_decisions) == (1, 1)
    assert fold.state.meta.duplicates == 2


def test_seq_gap_is_counted_and_a_late_fill_applies_once() -> None:
    a = Agent()
    start = a.start(0)
    d, dec = a.decide(1)  # seq 2
    out_ev = a.outcome(2, d, True)  # seq 3
    fold, _out = fold_all([start, out_ev])  # seq 2 missing
    assert fold.state.execs["exec-1"].missing == [2]
    fold.apply(dec)  # late fill
    fold.apply(dec)  # and its redelivery
    ex = fold.state.execs["exec-1"]
    assert ex.missing == [] and ex.run.total_decisions == 1
    assert fold.state.meta.duplicates == 1


def test_events_without_seq_are_deduplicated_by_source_and_id() -> None:
    a = Agent(seq=False)
    m = a.metric(1, "x", 1)
    fold, _ = fold_all([a.start(0), m, m])
    assert fold.state.meta.duplicates == 1


def test_state_is_released_when_run_ended_and_last_timer_fired() -> None:
    a = Agent()
    events = [a.start(0), a("action_started", 1, action_id="x", action_type="t"), a.end(2)]
    fold, _ = fold_all([*events, tick(91)])
    assert "exec-1" in fold.state.execs  # the action is still open (TTL 6 h)
    fold.apply(tick(1 + 360))
    assert fold.state.execs == {} and fold.state.open_actions == {}
    assert "exec-1" in fold.state.meta.closed
    # a redelivery after release is recognised; a new event is counted, not folded
    fold.apply(events[1])
    fold.apply(a.metric(400, "x", 1))
    assert fold.state.execs == {}
    assert fold.state.meta.duplicates == 1
    assert fold.state.meta.after_close == 1


def test_touched_reports_each_changed_execution_once() -> None:
    a, b = Agent("e-a"), Agent("e-b")
    fold = PartitionFold(FoldConfig())
    for ev in [a.start(0), a.metric(1, "x", 1), b.start(1)]:
        fold.apply(ev)
    assert fold.drain_touched() == {"e-a", "e-b"}
    assert fold.drain_touched() == set()


def test_timers_fire_before_the_event_that_passes_them() -> None:
    a = Agent()
    fold, _ = fold_all([a.start(0)])
    out = fold.apply(a.metric(200, "impressions", 1))
    # both elapsed windows closed (the second silent) before the metric applied, and
    # the silent window's plan, unreported, was planned again at its ack timeout (190.5)
    assert [r.signal for r in values(out, STAGNATION)] == ["none", "silence"]
    plans = values(out, HEALING)
    assert [(r.status, r.reason, r.planned_at[11:19]) for r in plans] == [
        ("planned", "stagnation", "10:30:30"),
        ("planned", "ack_timeout", "10:40:30"),
    ]


def test_restored_state_continues_identically() -> None:
    """Reindexing (what a worker does after a restore) changes nothing."""
    a = Agent()
    first = [a.start(0), a("action_started", 1, action_id="x", action_type="t"), tick(50)]
    rest = [tick(100), tick(200), tick(400)]
    fold, _ = fold_all(first)
    fold.state.reindex()
    resumed = [r for ev in rest for r in fold.apply(ev)]
    _, straight = fold_all(first + rest)
    assert resumed == straight[len(straight) - len(resumed) :]


def test_tick_advances_time_only() -> None:
    fold = PartitionFold(FoldConfig(), state=PartitionState(PartitionMeta(3)))
    assert fold.apply(tick(5, partition=3)) == []
    stats = fold.state.meta.stats()
    assert stats["ticks"] == 1 and stats["events"] == 0
    assert fold.state.execs == {}


def test_healing_attempts_do_not_count_as_agent_activity() -> None:
    a = Agent()
    fold, _ = fold_all([a.start(0)])
    report = decode_event(
        {
            "specversion": "1.0",
            "id": "r",
            "source": "ex",
            "type": "agentfold.healing_attempt",
            "subject": "exec-1",
            "time": "2026-11-22T09:10:00Z",
            "data": {
                "idempotency_key": "sheal_" + "0" * 32,
                "attempt": 1,
                "outcome": "success",
                "elapsed_s": 0,
            },
        }
    )
    out = fold.apply(report) + fold.apply(tick(181))
    assert [r.signal for r in values(out, STAGNATION)] == ["none", "silence"]


# ─── purity: no clock, no randomness, no I/O, no Faust ──────────────────────────────

FORBIDDEN_MODULES = {
    "time",
    "datetime",
    "random",
    "secrets",
    "uuid",
    "os",
    "sys",
    "io",
    "pathlib",
    "socket",
    "asyncio",
    "threading",
    "subprocess",
    "faust",
    "aiokafka",
    "mode",
    "logging",
}
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "__import__"}


def test_processors_import_no_clock_randomness_io_or_kafka() -> None:
    for path in sorted(PROCESSORS.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                names = []
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_CALLS, f"{path.name} calls {node.func.id}"


def test_importing_the_fold_does_not_load_faust_or_kafka() -> None:
    code = (
        "import sys, processors.fold, processors.config; "
        "bad = [m for m in ('faust', 'aiokafka', 'mode') if m in sys.modules]; "
        "sys.exit(', '.join(bad) if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
