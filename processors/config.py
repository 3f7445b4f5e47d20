"""Every number that shapes the fold, in one typed object. Defaults are DESIGN.md's.

Durations are integer seconds here (milliseconds internally); loading from files,
environment and flags lives in `streams.settings`, so this module stays pure.
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

    # Tumbling event-time windows (seed 000: 90 min; DESIGN §5: grace 30 s).
    window_s: PosInt = 5400
    grace_s: NonNegInt = 30
    max_open_windows: PosInt = 4  # per execution; > 2 only for events ahead of stream time

    # Stagnation (seed 000 + DESIGN §6).
    progress_metric: str = "engagements"
    exposure_metric: str = "impressions"
    min_samples: PosInt = 3
    rate_multiplier: float = Field(default=20.0, gt=0)
    failure_streak_max: PosInt = 5
    repetition_min: PosInt = 3
    repetition_keys_cap: PosInt = 256

    # Healing policy (seed 000 + 003, DESIGN §6).
    tier3_at: Unit = 0.8
    tier2_at: Unit = 0.55
    healthy_below: Unit = 0.3
    tier_actions: dict[str, str] = Field(
        default_factory=lambda: {"tier_1": "nudge", "tier_2": "revise", "tier_3": "escalate"}
    )
    cooldown_s: dict[str, NonNegInt] = Field(
        default_factory=lambda: {
            "nudge": 1800,
            "revise": 7200,
            "escalate": 10800,
            "comment": 1800,
            "edit": 7200,
            "thread": 10800,
        }
    )
    max_actions_per_window: PosInt = 2
    frequency_window_s: PosInt = 5400
    ack_timeout_s: PosInt = 600
    transient_error_codes: frozenset[str] = frozenset(
        {"timeout", "rate_limit", "service_unavailable", "network_error", "completion_timeout"}
    )
    retry_backoff_base_s: PosInt = 60
    retry_backoff_max_s: PosInt = 3600
    max_attempts: PosInt = 3

    # Runs (seeds 002/004).
    run_inactivity_s: PosInt = 86400
    pending_decisions_cap: PosInt = 256
    nodes_cap: PosInt = 64
    problems_kept: PosInt = 20
    narrative_problems_cap: PosInt = 10

    # Attribution (seed 001).
    action_ttl_s: PosInt = 21600
    max_open_actions: PosInt = 500
    max_steps_per_action: PosInt = 1000
    summary_keep: PosInt = 50
    credit_decay: float = Field(default=0.9, gt=0, le=1)
    description_max: PosInt = 500
    decision_max: PosInt = 200
    label_max: PosInt = 100
    value_str_max: PosInt = 500
    value_repr_max: PosInt = 1000

    # State size (agentfold's own: the seeds keep payloads unbounded). Each execution's
    # state is one changelog record holding its value and the value it replaces, so
    # 2 × state_max_bytes must stay under the broker's record limit (Kafka: 1 MB).
    text_max: PosInt = 1000  # any other free text kept in state or emitted from it
    payload_max_bytes: PosInt = 16384  # a JSON object kept or emitted, after truncation
    state_max_bytes: PosInt = 262144  # one execution, encoded; above it the fold sheds

    # De-duplication and closed executions.
    dedup_ids_cap: PosInt = 256
    seq_gap_cap: PosInt = 1024
    closed_cap: PosInt = 10000
    closed_retention_s: PosInt = 86400

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
