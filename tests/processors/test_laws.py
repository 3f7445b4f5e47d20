"""The fold laws, as properties over generated logs (hypothesis).

(a) the same log folded twice gives byte-identical output;
(b) a redelivered event (same source+id, anywhere later) changes nothing;
(c) regrouping events into different message batches changes nothing;
(d) once runs have ended and their timers fired, state holds nothing for them.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.config import FoldConfig
from schemas.codec import encode_event
from schemas.records import Event
from streams.folding.offline import OfflineFold, render
from tests.factory import Agent, tick

CFG = FoldConfig()
# a state budget small enough that these logs shed often (processors/budget.py)
TINY_BUDGET = FoldConfig(state_max_bytes=1600, payload_max_bytes=400)
config_st = st.sampled_from([CFG, TINY_BUDGET])
PARTITIONS = 3
SUBJECTS = [f"exec-{i}" for i in range(5)]

step_st = st.tuples(
    st.integers(0, len(SUBJECTS) - 1),
    st.integers(-3, 40),  # minutes since the previous step; negative = out of order
    st.sampled_from(
        [
            "metrics",
            "decide_ok",
            "decide_fail",
            "decide_same",
            "problem",
            "action",
            "step",
            "complete",
            "end",
            "tick",
        ]
    ),
    st.integers(0, 1000),
)


def build_log(steps: list[tuple[int, int, str, int]], end_all: bool = False) -> list[Event]:
    agents = {s: Agent(s, source=f"agent-{s}") for s in SUBJECTS}
    started: set[str] = set()
    now = 0.0
    log: list[Event] = []
    for idx, dt, kind, n in steps:
        now = max(0.0, now + dt)
        subject = SUBJECTS[idx]
        a = agents[subject]
        if subject not in started:
            started.add(subject)
            log.append(a.start(now))
        if kind == "metrics":
            log += a.pair(now, 100 * a.n + n, a.n + n % 7)
        elif kind.startswith("decide"):
            intent = "same" if kind == "decide_same" else f"i{n % 4}"
            d, e = a.decide(now, intent)
            log += [e, a.outcome(now + 1, d, kind != "decide_fail", {"r": 1})]
        elif kind == "problem":
            log.append(a("problem", now, problem_id=f"p{n}", severity="critical", description="x"))
        elif kind == "action":
            log.append(
                a(
                    "action_started",
                    now,
                    action_id=f"{subject}-act{n % 3}",
                    action_type="t",
                    expected_outcome={"v": n % 3},
                )
            )
        elif kind == "step":
            log.append(a("step", now, action_id=f"{subject}-act{n % 3}", confidence=(n % 11) / 10))
        elif kind == "complete":
            log.append(
                a("action_completed", now, action_id=f"{subject}-act{n % 3}", outcome={"v": n % 2})
            )
        elif kind == "end":
            log.append(a.end(now, success=n % 2 == 0))
        else:
            log.append(tick(now))
    if end_all:
        for subject in sorted(started):
            log.append(agents[subject].end(now + 1))
    return log


def fold_lines(lines: list[bytes], cfg: FoldConfig = CFG) -> tuple[bytes, OfflineFold]:
    folder = OfflineFold(cfg, PARTITIONS)
    out = b"".join(render(e) + b"\n" for e in folder.feed_lines(lines))
    return out, folder


def one_per_line(log: list[Event]) -> list[bytes]:
    return [encode_event(e) for e in log]


LAW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@LAW
@given(st.lists(step_st, min_size=1, max_size=60), config_st)
def test_a_same_log_twice_is_byte_identical(steps: list[Any], cfg: FoldConfig) -> None:
    lines = one_per_line(build_log(steps))
    assert fold_lines(lines, cfg)[0] == fold_lines(list(lines), cfg)[0]


@LAW
@given(st.lists(step_st, min_size=1, max_size=60), st.data())
def test_b_redelivery_changes_nothing(steps: list[Any], data: st.DataObject) -> None:
    cfg = data.draw(config_st, label="config")
    lines = one_per_line(build_log(steps))
    original = data.draw(st.integers(0, len(lines) - 1), label="duplicated line")
    where = data.draw(st.integers(original + 1, len(lines)), label="inserted before")
    redelivered = [*lines[:where], lines[original], *lines[where:]]
    assert fold_lines(redelivered, cfg)[0] == fold_lines(lines, cfg)[0]


@LAW
@given(st.lists(step_st, min_size=1, max_size=60), st.data())
def test_c_batch_regrouping_changes_nothing(steps: list[Any], data: st.DataObject) -> None:
    cfg = data.draw(config_st, label="config")
    log = build_log(steps)
    lines: list[bytes] = []
    batch: list[dict[str, Any]] = []
    for ev in log:
        obj = orjson.loads(encode_event(ev))
        same = batch and obj.get("subject") == batch[0].get("subject") and "subject" in obj
        if batch and not (same and data.draw(st.booleans())):
            lines.append(orjson.dumps(batch))
            batch = []
        batch.append(obj)
    lines.append(orjson.dumps(batch))
    assert fold_lines(lines, cfg)[0] == fold_lines(one_per_line(log), cfg)[0]


@LAW
@given(st.lists(step_st, min_size=1, max_size=60))
def test_d_completed_runs_leave_nothing_behind(steps: list[Any]) -> None:
    log = build_log(steps, end_all=True)
    last = max(e.time for e in log)
    far = (last - tick(0).time) / 60_000 + CFG.action_ttl_s / 60 + 200
    _, folder = fold_lines(one_per_line([*log, tick(far)]))
    for fold in folder.folds:
        assert fold.state.execs == {}
        assert fold.state.open_actions == {}
        assert len(fold.state.heap) <= fold.state.stale
