"""Seed 000's stagnation score and tiers, plus agentfold's windows and agent signals."""

from __future__ import annotations

import pytest

from processors.config import FoldConfig
from processors.limits import Limits
from processors.stagnation import metric_ratio_score, score_window, tier_for, window_start
from processors.state import WindowAcc
from schemas.outputs import STAGNATION
from tests.factory import GRACE, MIN, WINDOW, Agent, at, fold_all, tick, values

CFG = FoldConfig()


@pytest.mark.parametrize(
    ("engagements", "impressions", "score", "tier"),
    [
        (10, 1000, 0.8, "tier_3"),  # seed: 10 per 1000 → 0.8 → tier_3 (boundary inclusive)
        (9, 400, 0.55, "tier_2"),  # seed: 9 per 400 → 0.55 → tier_2 (boundary inclusive)
        (23, 1000, 0.54, "tier_1"),  # seed: 23 per 1000 → 0.54 → tier_1
        (0, 1000, 1.0, "tier_3"),
        (50, 1000, 0.0, "tier_1"),  # rate 0.05 · 20 = 1 → fully healthy
        (500, 1000, 0.0, "tier_1"),  # min(1, ·) caps the rate term
    ],
)
def test_seed_score_checks(engagements: int, impressions: int, score: float, tier: str) -> None:
    got = metric_ratio_score(engagements, impressions)
    assert got == pytest.approx(score, abs=1e-12)
    assert tier_for(got, Limits(CFG)) == tier


def test_exposure_that_did_not_grow_gives_rate_zero_and_full_stagnation() -> None:
    assert metric_ratio_score(5, 0) == 1.0
    assert metric_ratio_score(5, -100) == 1.0  # Δ floored at 0


def test_negative_progress_is_floored_at_zero() -> None:
    assert metric_ratio_score(-30, 1000) == 1.0


def test_tier_boundaries_are_inclusive() -> None:
    assert tier_for(0.8, Limits(CFG)) == "tier_3"
    assert tier_for(0.7999999, Limits(CFG)) == "tier_2"
    assert tier_for(0.55, Limits(CFG)) == "tier_2"
    assert tier_for(0.5499999, Limits(CFG)) == "tier_1"


@pytest.mark.parametrize(
    ("t", "start"),
    [(0, 0), (WINDOW - 1, 0), (WINDOW, WINDOW), (-1, -WINDOW), (at(0), at(0)), (at(89.99), at(0))],
)
def test_windows_are_epoch_aligned_and_half_open(t: int, start: int) -> None:
    assert window_start(t, WINDOW) == start


def test_default_window_is_ninety_minutes_with_thirty_seconds_grace() -> None:
    assert CFG.window_s == 90 * 60
    assert CFG.grace_s == 30
    assert CFG.min_samples == 3


def _acc(**kw: object) -> WindowAcc:
    acc = WindowAcc(0, events=1)
    for k, v in kw.items():
        setattr(acc, k, v)
    return acc


def test_fewer_than_three_samples_gives_no_metric_score() -> None:
    acc = _acc()
    for t, (imp, eng) in enumerate([(0, 0), (1000, 0)]):
        acc.exposure.add(t, imp)
        acc.progress.add(t, eng)
    sc = score_window(acc, Limits(CFG))
    assert sc.metric_ratio is None
    assert sc.sample_count == 2
    assert (sc.score, sc.signal) == (0.0, "none")


def test_first_and_last_sample_are_by_event_time_not_arrival() -> None:
    acc = _acc()
    # arrival order 2, 0, 1: by time, first = t0 (0, 0) and last = t2 (1000, 10)
    for t, imp, eng in [(2, 1000, 10), (0, 0, 0), (1, 400, 9)]:
        acc.exposure.add(t, imp)
        acc.progress.add(t, eng)
    assert score_window(acc, Limits(CFG)).metric_ratio == pytest.approx(0.8)


@pytest.mark.parametrize(("streak", "expected"), [(0, 0.0), (1, 0.2), (4, 0.8), (5, 1.0), (9, 1.0)])
def test_failure_streak_signal_is_consecutive_failures_over_five(
    streak: int, expected: float
) -> None:
    sc = score_window(_acc(max_streak=streak), Limits(CFG))
    assert sc.failure_streak == pytest.approx(expected)


@pytest.mark.parametrize(("repeats", "expected"), [(1, 0.0), (2, 0.0), (3, 1.0), (7, 1.0)])
def test_repetition_signal_needs_three_identical_decisions(repeats: int, expected: float) -> None:
    sc = score_window(_acc(repeats={"k": repeats, "other": 1}), Limits(CFG))
    assert sc.repetition == expected


def test_combined_score_is_max_and_names_the_signal() -> None:
    acc = _acc(max_streak=4)
    for t, imp, eng in [(0, 0, 0), (1, 500, 5), (2, 1000, 23)]:
        acc.exposure.add(t, imp)
        acc.progress.add(t, eng)
    sc = score_window(acc, Limits(CFG))
    assert sc.metric_ratio == pytest.approx(0.54)
    assert (sc.score, sc.signal) == (pytest.approx(0.8), "failure_streak")


def test_silent_window_gets_maximum_score() -> None:
    sc = score_window(WindowAcc(0, events=0), Limits(CFG))
    assert (sc.score, sc.signal, sc.silence) == (1.0, "silence", 1.0)


# ─── through the fold ───────────────────────────────────────────────────────────────


def test_window_emits_one_final_score_after_end_plus_grace() -> None:
    a = Agent()
    events = [a.start(0)]
    for m, (imp, eng) in zip((10, 40, 80), [(0, 0), (500, 5), (1000, 10)], strict=True):
        events += a.pair(m, imp, eng)
    fold, out = fold_all([*events, tick(90.49)])
    assert values(out, STAGNATION) == []  # stream time < end + grace
    out = fold.apply(tick(90.5))  # exactly end + grace closes it
    (rec,) = values(out, STAGNATION)
    assert (rec.score, rec.signal, rec.sample_count) == (pytest.approx(0.8), "metric_ratio", 3)
    assert rec.window_start == "2026-11-22T07:30:00.000Z"
    assert rec.window_end == "2026-11-22T09:00:00.000Z"
    assert values(fold.apply(tick(95)), STAGNATION) == []  # exactly once


def test_points_after_window_end_do_not_count_and_grace_admits_stragglers() -> None:
    a = Agent()
    events = [a.start(0), *a.pair(10, 0, 0), *a.pair(20, 500, 5)]
    events += a.pair(90, 5000, 5)  # next window: excluded from the first
    events.append(a.metric(89.9, "impressions", 1000))  # within grace, window 1
    events.append(a.metric(89.9, "engagements", 10))
    _, out = fold_all([*events, tick(91)])
    (rec,) = values(out, STAGNATION)
    assert rec.score == pytest.approx(0.8)


def test_late_event_updates_run_but_not_the_closed_window() -> None:
    a = Agent()
    events = [a.start(0), *a.pair(10, 0, 0), tick(91)]
    _d, dec = a.decide(5)  # window 1 already closed: late
    events += [dec, tick(181)]
    fold, out = fold_all(events)
    first, second = values(out, STAGNATION)
    assert first.late_events == 0
    assert second.late_events == 1
    assert fold.state.execs["exec-1"].run.total_decisions == 1
    assert fold.state.execs["exec-1"].run.late_events == 1


def test_open_run_with_no_events_in_a_whole_window_scores_silence() -> None:
    a = Agent()
    _, out = fold_all([a.start(0), tick(90 + 91)])
    first, second = values(out, STAGNATION)
    assert first.signal == "none"
    assert (second.score, second.signal, second.event_count) == (1.0, "silence", 0)


def test_stream_time_never_goes_back() -> None:
    fold, _ = fold_all([tick(100), tick(10)])
    assert fold.state.meta.stream_ms == at(100)


def test_grace_constant_matches_config() -> None:
    assert CFG.grace_ms == GRACE and CFG.window_ms == MIN * 90
