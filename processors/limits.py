"""The fold's settings as a compiled object.

`FoldConfig` (processors/config.py) is the typed, validated and documented config —
a pydantic model, which mypyc cannot compile: compiled code reads each of its
attributes the generic way, ≈ 360 instructions a read, and the fold reads a dozen per
event. A `Limits` made from it once holds the same values as native attributes, read
in a few instructions. `PartitionFold` makes one; so does everything else that hands
settings to the fold's functions. tests/processors/test_limits.py pins that it carries
every field.
"""

from __future__ import annotations

from typing import final

from processors.config import FoldConfig


@final
class Limits:
    """Every `FoldConfig` field, and its millisecond views, as plain attributes."""

    window_s: int
    grace_s: int
    max_open_windows: int
    max_future_skew_s: int
    max_time_jump_s: int
    journal_max_bytes: int
    progress_metric: str
    exposure_metric: str
    min_samples: int
    rate_multiplier: float
    failure_streak_max: int
    repetition_min: int
    repetition_keys_cap: int
    tier3_at: float
    tier2_at: float
    healthy_below: float
    tier_actions: dict[str, str]
    cooldown_s: dict[str, int]
    max_actions_per_window: int
    frequency_window_s: int
    ack_timeout_s: int
    transient_error_codes: frozenset[str]
    retry_backoff_base_s: int
    retry_backoff_max_s: int
    max_attempts: int
    run_inactivity_s: int
    pending_decisions_cap: int
    nodes_cap: int
    problems_kept: int
    narrative_problems_cap: int
    summary_decisions_kept: int
    summary_keys_cap: int
    summary_constraints_kept: int
    goals_cap: int
    summary_text_max: int
    action_ttl_s: int
    max_open_actions: int
    max_steps_per_action: int
    summary_keep: int
    credit_decay: float
    description_max: int
    decision_max: int
    label_max: int
    value_str_max: int
    value_repr_max: int
    text_max: int
    payload_max_bytes: int
    state_max_bytes: int
    dedup_ids_cap: int
    seq_gap_cap: int
    closed_cap: int
    closed_retention_s: int
    window_ms: int
    grace_ms: int
    config: FoldConfig  # what it was made from

    def __init__(self, cfg: FoldConfig) -> None:
        self.config = cfg
        self.window_s = cfg.window_s
        self.grace_s = cfg.grace_s
        self.max_open_windows = cfg.max_open_windows
        self.max_future_skew_s = cfg.max_future_skew_s
        self.max_time_jump_s = cfg.max_time_jump_s
        self.journal_max_bytes = cfg.journal_max_bytes
        self.progress_metric = cfg.progress_metric
        self.exposure_metric = cfg.exposure_metric
        self.min_samples = cfg.min_samples
        self.rate_multiplier = cfg.rate_multiplier
        self.failure_streak_max = cfg.failure_streak_max
        self.repetition_min = cfg.repetition_min
        self.repetition_keys_cap = cfg.repetition_keys_cap
        self.tier3_at = cfg.tier3_at
        self.tier2_at = cfg.tier2_at
        self.healthy_below = cfg.healthy_below
        self.tier_actions = cfg.tier_actions
        self.cooldown_s = cfg.cooldown_s
        self.max_actions_per_window = cfg.max_actions_per_window
        self.frequency_window_s = cfg.frequency_window_s
        self.ack_timeout_s = cfg.ack_timeout_s
        self.transient_error_codes = cfg.transient_error_codes
        self.retry_backoff_base_s = cfg.retry_backoff_base_s
        self.retry_backoff_max_s = cfg.retry_backoff_max_s
        self.max_attempts = cfg.max_attempts
        self.run_inactivity_s = cfg.run_inactivity_s
        self.pending_decisions_cap = cfg.pending_decisions_cap
        self.nodes_cap = cfg.nodes_cap
        self.problems_kept = cfg.problems_kept
        self.narrative_problems_cap = cfg.narrative_problems_cap
        self.summary_decisions_kept = cfg.summary_decisions_kept
        self.summary_keys_cap = cfg.summary_keys_cap
        self.summary_constraints_kept = cfg.summary_constraints_kept
        self.goals_cap = cfg.goals_cap
        self.summary_text_max = cfg.summary_text_max
        self.action_ttl_s = cfg.action_ttl_s
        self.max_open_actions = cfg.max_open_actions
        self.max_steps_per_action = cfg.max_steps_per_action
        self.summary_keep = cfg.summary_keep
        self.credit_decay = cfg.credit_decay
        self.description_max = cfg.description_max
        self.decision_max = cfg.decision_max
        self.label_max = cfg.label_max
        self.value_str_max = cfg.value_str_max
        self.value_repr_max = cfg.value_repr_max
        self.text_max = cfg.text_max
        self.payload_max_bytes = cfg.payload_max_bytes
        self.state_max_bytes = cfg.state_max_bytes
        self.dedup_ids_cap = cfg.dedup_ids_cap
        self.seq_gap_cap = cfg.seq_gap_cap
        self.closed_cap = cfg.closed_cap
        self.closed_retention_s = cfg.closed_retention_s
        self.window_ms = cfg.window_ms
        self.grace_ms = cfg.grace_ms
