"""Every number that shapes the fold, in one typed object. Defaults are docs/rules.md's.

Durations are integer seconds here (milliseconds internally); loading from files,
environment and flags lives in `streams.config`, so this module stays pure.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]

TIERS = ("tier_1", "tier_2", "tier_3")


class FoldConfig(BaseModel):
    """Configuration of the pure fold. Immutable; build a new one to change it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Tumbling event-time windows (seed 000: 90 min; grace 30 s).
    window_s: PosInt = Field(default=5400, description="tumbling event-time window length")
    grace_s: NonNegInt = Field(
        default=30, description="a window closes when stream time passes its end + grace"
    )
    max_open_windows: PosInt = Field(
        default=4, description="open windows per execution (> 2 only for events ahead)"
    )

    # The clock guard (agentfold's own): one producer's clock cannot move a partition's.
    max_future_skew_s: PosInt = Field(
        default=300,
        description="an event stamped this far past its Kafka message's timestamp is "
        "dead-lettered as clock_skew instead of moving stream time",
    )
    max_time_jump_s: PosInt = Field(
        default=604800,
        description="without message timestamps (a log file): how far one event may move "
        "stream time at once; beyond, clock_skew",
    )

    # The exception net (agentfold's own): what a partition keeps to undo an event.
    journal_max_bytes: PosInt = Field(
        default=16 << 20,
        description="input a partition keeps since its last checkpoint (a worker's flush) "
        "for the exception net (fold_error); past it, a checkpoint is taken",
    )

    # Stagnation (seed 000, plus agentfold's agent signals).
    progress_metric: str = Field(
        default="engagements", description="metric whose growth is progress (seed: engagements)"
    )
    exposure_metric: str = Field(
        default="impressions", description="metric progress is measured against"
    )
    min_samples: PosInt = Field(
        default=3, description="metric samples a window needs for a metric score"
    )
    rate_multiplier: float = Field(
        default=20.0, gt=0, description="score = 1 − min(1, rate_multiplier · Δprogress/Δexposure)"
    )
    failure_streak_max: PosInt = Field(
        default=5, description="consecutive failed outcomes that score 1.0"
    )
    repetition_min: PosInt = Field(
        default=3, description="repeats of the same decision and result that count as a loop"
    )
    repetition_keys_cap: PosInt = Field(
        default=256, description="distinct decisions tracked per window for repetition"
    )

    # Healing policy (seed 000 + 003).
    tier3_at: Unit = Field(default=0.8, description="score at or above which tier_3 acts")
    tier2_at: Unit = Field(default=0.55, description="score at or above which tier_2 acts")
    healthy_below: Unit = Field(
        default=0.3, description="no action below this score (0 = act on every window, as the seed)"
    )
    tier_actions: dict[str, str] = Field(
        default_factory=lambda: {"tier_1": "nudge", "tier_2": "revise", "tier_3": "escalate"},
        description="action type per tier (seed preset: comment / edit / thread)",
    )
    cooldown_s: dict[str, NonNegInt] = Field(
        default_factory=lambda: {
            "nudge": 1800,
            "revise": 7200,
            "escalate": 10800,
            "comment": 1800,
            "edit": 7200,
            "thread": 10800,
        },
        description="minimum age of the last action of the same type before another",
    )
    max_actions_per_window: PosInt = Field(
        default=2, description="actions per execution within frequency_window_s"
    )
    frequency_window_s: PosInt = Field(
        default=5400, description="the span max_actions_per_window counts over"
    )
    ack_timeout_s: PosInt = Field(
        default=600, description="a plan with no attempt reported by then is no longer in flight"
    )
    transient_error_codes: frozenset[str] = Field(
        default=frozenset(
            {"timeout", "rate_limit", "service_unavailable", "network_error", "completion_timeout"}
        ),
        description="attempt error codes that are retried",
    )
    retry_backoff_base_s: PosInt = Field(
        default=60, description="retry n waits min(base · 2^n, max)"
    )
    retry_backoff_max_s: PosInt = Field(default=3600, description="longest retry backoff")
    max_attempts: PosInt = Field(default=3, description="attempts per idempotency key")

    # Runs (seeds 002/004).
    run_inactivity_s: PosInt = Field(
        default=86400, description="a run with no event for this long times out"
    )
    pending_decisions_cap: PosInt = Field(
        default=256, description="decisions awaiting an outcome kept per run"
    )
    nodes_cap: PosInt = Field(default=64, description="distinct nodes listed per run")
    problems_kept: PosInt = Field(default=20, description="newest problems kept per run")
    narrative_problems_cap: PosInt = Field(
        default=10, description="problems quoted in the default narrative"
    )
    summary_decisions_kept: PosInt = Field(
        default=20,
        description="a run's first decisions, and first unsuccessful ones, kept in full for "
        "its summary and failure analysis",
    )
    summary_keys_cap: PosInt = Field(
        default=20,
        description="distinct errors, intents and choices per intent counted per run for goal "
        "patterns",
    )
    summary_constraints_kept: PosInt = Field(
        default=8, description="active_constraints kept per decision for its analysis"
    )
    goals_cap: PosInt = Field(
        default=64,
        description="goal definitions each partition keeps (more are refused as goal_limit)",
    )
    summary_text_max: PosInt = Field(
        default=200,
        description="characters of each text a run's analysis keeps (intents, options, "
        "errors, constraints, node ids)",
    )

    # Attribution (seed 001).
    action_ttl_s: PosInt = Field(
        default=21600, description="an open action closes with status timeout after this"
    )
    max_open_actions: PosInt = Field(
        default=500, description="open actions per partition; the oldest is evicted beyond"
    )
    max_steps_per_action: PosInt = Field(
        default=1000, description="steps and observations per action"
    )
    summary_keep: PosInt = Field(
        default=50, description="last steps and observations carried on a chain"
    )
    credit_decay: float = Field(
        default=0.9, gt=0, le=1, description="credit weight decay per step back from the end"
    )
    description_max: PosInt = Field(default=500, description="characters of a step description")
    decision_max: PosInt = Field(default=200, description="characters of a step decision")
    label_max: PosInt = Field(
        default=100, description="characters of an observation's type and source"
    )
    value_str_max: PosInt = Field(
        default=500, description="characters of a string value in step state or data"
    )
    value_repr_max: PosInt = Field(
        default=1000, description="characters of a nested value in step state or data"
    )

    # State size (agentfold's own: the seeds keep payloads unbounded). Each execution's
    # state is one changelog record holding its value and the value it replaces, so
    # 2 × state_max_bytes must stay under the broker's record limit (Kafka: 1 MB).
    text_max: PosInt = Field(
        default=1000, description="characters of any other free text kept or emitted"
    )
    payload_max_bytes: PosInt = Field(
        default=16384, description="bytes of a JSON object kept or emitted, after truncation"
    )
    state_max_bytes: PosInt = Field(
        default=262144, description="one execution's encoded state; above it the fold sheds"
    )

    # De-duplication and closed executions.
    dedup_ids_cap: PosInt = Field(
        default=256, description="remembered ids of events without seq, per execution"
    )
    seq_gap_cap: PosInt = Field(default=1024, description="missing seq numbers tracked")
    closed_cap: PosInt = Field(
        default=10000, description="released executions remembered per partition"
    )
    closed_retention_s: PosInt = Field(
        default=86400, description="how long a released execution is remembered"
    )

    @model_validator(mode="after")
    def _consistent(self) -> FoldConfig:
        if self.grace_s >= self.window_s:
            raise ValueError(
                f"grace_s ({self.grace_s}) must be smaller than window_s ({self.window_s})"
            )
        if self.tier2_at > self.tier3_at:
            raise ValueError(f"tier2_at ({self.tier2_at}) must be <= tier3_at ({self.tier3_at})")
        missing_tiers = [t for t in TIERS if t not in self.tier_actions]
        if missing_tiers:
            raise ValueError(f"tier_actions has no action for {', '.join(missing_tiers)}")
        no_cooldown = sorted(a for a in self.tier_actions.values() if a not in self.cooldown_s)
        if no_cooldown:
            raise ValueError(f"cooldown_s has no entry for action(s) {', '.join(no_cooldown)}")
        if self.state_max_bytes < 4 * self.payload_max_bytes:
            raise ValueError(
                f"state_max_bytes ({self.state_max_bytes}) must be at least 4 × "
                f"payload_max_bytes ({self.payload_max_bytes})"
            )
        if self.progress_metric == self.exposure_metric:
            raise ValueError("progress_metric and exposure_metric must differ")
        return self

    # Millisecond views used on the hot path (computed once per config object).
    @property
    def window_ms(self) -> int:
        return self.window_s * 1000

    @property
    def grace_ms(self) -> int:
        return self.grace_s * 1000


SEED_PARITY = {
    # The social preset and "act on every window" of seed 000.
    "tier_actions": {"tier_1": "comment", "tier_2": "edit", "tier_3": "thread"},
    "healthy_below": 0.0,
}
