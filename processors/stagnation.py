"""Tumbling-window maths and the stagnation score of one closed window (seed 000 + §6).

Pure functions of integers and accumulators: time is passed in, never read.
"""

from __future__ import annotations

from typing import NamedTuple

from processors.limits import Limits
from processors.state import WindowAcc
from schemas.outputs import Signal


def window_start(t_ms: int, size_ms: int) -> int:
    """Epoch-aligned start of the half-open window [start, start + size) holding t."""
    return t_ms - t_ms % size_ms


class Score(NamedTuple):
    score: float
    signal: Signal
    metric_ratio: float | None
    silence: float
    failure_streak: float
    repetition: float
    sample_count: int


def metric_ratio_score(
    d_progress: float, d_exposure: float, rate_multiplier: float = 20.0
) -> float:
    """Seed 000: rate = Δprogress/Δexposure (0 when exposure did not grow);
    score = 1 − min(1, k·rate).

    Both deltas are floored at 0. The multiplication order (rate * k) is the seed's, so
    the boundary cases land on the same side (9 per 400 → exactly 0.55).
    """
    d_progress = max(0.0, d_progress)
    d_exposure = max(0.0, d_exposure)
    rate = d_progress / d_exposure if d_exposure > 0 else 0.0
    return 1.0 - min(1.0, rate * rate_multiplier)


def score_window(acc: WindowAcc, cfg: Limits) -> Score:
    """Combine the four signals by max; on a tie the earlier signal in this order names it:
    metric_ratio, silence, failure_streak, repetition. A window where no signal fired
    (score 0 and no metric score) is named "none"."""
    samples = min(acc.progress.n, acc.exposure.n)
    metric: float | None = None
    if samples >= cfg.min_samples:
        metric = metric_ratio_score(
            acc.progress.last_v - acc.progress.first_v,
            acc.exposure.last_v - acc.exposure.first_v,
            cfg.rate_multiplier,
        )
    silence = 1.0 if acc.events == 0 else 0.0
    streak = min(1.0, acc.max_streak / cfg.failure_streak_max)
    top_repeat = max(acc.repeats.values(), default=0)
    repetition = 1.0 if top_repeat >= cfg.repetition_min else 0.0

    # A computed metric ratio names the window even at 0; the agent signals name it only
    # when they exceed what came before them.
    best: tuple[float, Signal] = (metric, "metric_ratio") if metric is not None else (0.0, "none")
    agent_signals: tuple[tuple[float, Signal], ...] = (
        (silence, "silence"),
        (streak, "failure_streak"),
        (repetition, "repetition"),
    )
    for value, name in agent_signals:
        if value > best[0]:
            best = (value, name)
    return Score(best[0], best[1], metric, silence, streak, repetition, samples)


def tier_for(score: float, cfg: Limits) -> str:
    """Seed 000 tiers, boundaries inclusive: ≥ 0.8 tier_3, ≥ 0.55 tier_2, else tier_1."""
    if score >= cfg.tier3_at:
        return "tier_3"
    if score >= cfg.tier2_at:
        return "tier_2"
    return "tier_1"
