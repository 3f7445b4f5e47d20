"""Models of everything agentfold writes (docs/design.md, docs/rules.md); the record type.

Processors emit plain JSON-ready dicts (validating a model per output would cost more
than folding the events that caused it); these models are the contract: they give
the JSON Schemas, and the tests validate every output the fold produces against them.
`schemas.codec.encode_output` serialises values canonically (sorted keys, no
whitespace) so the same log gives byte-identical output.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from schemas.errors import RejectReason
from schemas.events import RunStatus

JsonDict = dict[str, Any]

# Logical topic names; the streams layer prefixes them (default "agentfold").
RUNS = "runs"
STAGNATION = "stagnation"
HEALING = "healing"
ATTRIBUTION = "attribution"
DEADLETTER = "deadletter"
TELEMETRY = "telemetry"
GOAL_FACTS = "goalfacts"  # the goal stage's input, keyed by goal id (a repartition topic)
GOALS = "goals"  # the goal stage's output: each goal's progress, keyed by goal id (compacted)
EXECUTOR_LEDGER = "executor"  # the executor's "attempt started" records, not a fold output
# What the per-partition fold writes (offline and replay write the same).
OUTPUT_TOPICS: tuple[str, ...] = (RUNS, STAGNATION, HEALING, ATTRIBUTION, DEADLETTER, GOAL_FACTS)
# Everything the worker writes: the fold's outputs and the goal stage's.
LIVE_OUTPUT_TOPICS: tuple[str, ...] = (*OUTPUT_TOPICS, GOALS)

# "none": no signal fired in the window (score 0): no metric samples, not silent, no
# failures, no repetition.
Signal = Literal["metric_ratio", "silence", "failure_streak", "repetition", "none"]
Tier = Literal["tier_1", "tier_2", "tier_3"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OutputRecord(NamedTuple):
    """One record for an output topic: logical topic name, message key, JSON-ready value."""

    topic: str
    key: str | None
    value: JsonDict


# ─── runs ───────────────────────────────────────────────────────────────────────────


class RunMetrics(_Out):
    total_decisions: int
    successful_decisions: int
    failed_decisions: int
    total_tokens: int
    total_latency_ms: int
    nodes_executed: list[str]
    success_rate: float


class ProblemRecord(_Out):
    id: str
    severity: str
    description: str
    decision_id: str | None
    root_cause: str | None
    suggested_fix: str | None
    time: str


class RunSummary(_Out):
    """hive's RunSummary (SEEDS-GOALS §3)."""

    decision_count: int
    success_rate: float
    problem_count: int
    key_decisions: list[str] = Field(
        description="summary lines of the first 5 unsuccessful decisions (pending included): "
        "'✗ [node] intent → chosen option'"
    )
    critical_problems: list[str]
    warnings: list[str]
    successes: list[str] = Field(description="the first 3 outcome summaries of successes")


class DecisionLine(_Out):
    index: int
    node_id: str
    intent: str
    chosen: str = Field(description="the chosen option's description ('' if none resolves)")
    chosen_option_id: str
    status: Literal["pending", "succeeded", "failed"]


class UnsuccessfulDecision(_Out):
    index: int
    node_id: str
    intent: str
    chosen: str
    outcome: Literal["failed", "pending"]
    error: str | None
    alternative: str | None = Field(description="the first option other than the chosen one")
    context_empty: bool
    active_constraints: list[str]


class NodeStats(_Out):
    decisions: int
    succeeded: int
    latency_ms: int = Field(description="summed over the node's decisions with an outcome")
    tokens: int


class RunAnalysis(_Out):
    """The decision-level facts the analyst commands read (docs/analysis.md), bounded."""

    decisions: list[DecisionLine] = Field(description="the run's first decisions")
    unsuccessful: list[UnsuccessfulDecision] = Field(
        description="its first unsuccessful decisions, in decision order"
    )
    unsuccessful_total: int
    nodes: dict[str, NodeStats]
    errors: dict[str, int] = Field(description="failed outcomes by error ('' = no error)")
    decision_types: dict[str, int]
    choices: dict[str, dict[str, int]] = Field(
        description="intent (first 50 characters) → chosen option description → count"
    )


class RunRecord(_Out):
    """A run snapshot (hive's Run, bounded): emitted on start, end and timeout."""

    id: str
    execution_id: str
    agent_id: str
    goal_id: str
    goal_description: str
    stream_id: str
    input_data: JsonDict
    output_data: JsonDict
    status: RunStatus
    started_at: str
    completed_at: str | None
    duration_ms: int
    metrics: RunMetrics
    problems: list[ProblemRecord] = Field(description="the most recent problems (bounded)")
    problem_count: int
    narrative: str
    summary: RunSummary
    analysis: RunAnalysis
    seq_gaps: int = Field(description="sequence numbers skipped and not (yet) seen")
    late_events: int = Field(description="events that arrived after their window closed")
    ignored: dict[str, int] = Field(description="valid events that could not apply, by reason")
    shed: dict[str, int] = Field(
        description="what was dropped to keep the execution's state within state_max_bytes, "
        "by kind: summaries, analysis, actions, decisions, problems, dedup_ids"
    )


# ─── stagnation ─────────────────────────────────────────────────────────────────────


class SignalScores(_Out):
    metric_ratio: float | None
    silence: float
    failure_streak: float
    repetition: float


class StagnationRecord(_Out):
    """The one final score of an execution for one tumbling window."""

    id: str
    execution_id: str
    window_start: str
    window_end: str
    score: float
    signal: Signal
    signals: SignalScores
    sample_count: int
    event_count: int
    late_events: int


# ─── healing ────────────────────────────────────────────────────────────────────────


class HealingRecord(_Out):
    """A planned healing action; a plan that was suppressed, with the reason; or the
    report that closed an attempt (`reported`, the reason its outcome, `planned_at`
    the report's time)."""

    id: str
    execution_id: str
    status: Literal["planned", "suppressed", "reported"]
    reason: str
    idempotency_key: str
    tier: Tier
    action_type: str
    stagnation_score: float
    attempt: int
    window_start: str
    window_end: str
    planned_at: str
    ack_deadline: str | None


# ─── attribution ────────────────────────────────────────────────────────────────────


class StepSummary(_Out):
    index: int
    desc: str
    decision: str
    confidence: float
    credit: float


class ObservationRecord(_Out):
    time: str
    observation_type: str
    data: JsonDict
    source: str
    confidence: float


class AttributionChain(_Out):
    """Credit assignment over an action's steps (seed 001), with its working shown."""

    id: str
    execution_id: str
    action_id: str
    parent_action_id: str | None
    agent_id: str
    action_type: str
    goal_id: str | None
    expected_outcome: JsonDict
    acceptance_criteria: list[str]
    started_at: str
    completed_at: str
    duration_seconds: float
    step_count: int
    observation_count: int
    outcome: JsonDict
    closed_by: Literal["completed", "timeout", "evicted"]
    success_score: float
    step_credits: list[float] = Field(description="credit per step, by global step index")
    raw_weights: list[float]
    normalizer: float
    steps_summary: list[StepSummary]
    observations: list[ObservationRecord]
    summary: str


# ─── dead letters ───────────────────────────────────────────────────────────────────


class Origin(_Out):
    """Where a rejected input came from: Kafka coordinates, or a file line."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    file: str | None = None
    line: int | None = None
    index: int | None = Field(default=None, description="position inside a JSON array batch")


class DeadLetter(_Out):
    id: str
    reason: RejectReason
    error: str
    key: str | None
    original: str = Field(description="base64 of the original bytes (capped, see truncated)")
    original_size: int
    original_truncated: bool
    origin: Origin


# ─── goal facts ─────────────────────────────────────────────────────────────────────


class GoalFact(_Out):
    """What the per-partition fold tells the goal stage (docs/goals.md): a definition it
    accepted, what one message did to a goal (a `tally`), a constraint violated.
    `partition` and `seq` place it in its partition's sequence of facts: the goal stage
    skips a fact it has applied (a refold after a crash emits the same ones again)."""

    id: str
    kind: Literal["defined", "tally", "violation"]
    goal_id: str
    version: int
    partition: int
    seq: int
    definition: JsonDict | None = None  # defined
    decisions: int | None = None  # tally: decisions scored
    succeeded: int | None = None  # tally: outcomes of scored decisions, by success
    failed: int | None = None
    runs: list[str] | None = Field(
        default=None, description="tally: executions whose first scored decision it holds"
    )
    streams: list[str] | None = None  # tally: the stream ids of its decisions' runs
    criteria: dict[str, list[int]] | None = Field(
        default=None,
        description="tally: per criterion, [relevant decisions, of those resolved, succeeded]",
    )
    decided: list[list[Any]] | None = Field(
        default=None,
        description="tally: evidence candidates, [time ms, execution, index, decision id, "
        "intent, criteria]",
    )
    resolved: list[list[Any]] | None = Field(
        default=None,
        description="tally: their outcomes, [time ms, execution, index, decision id, "
        "success, criteria]",
    )
    execution_id: str | None = None  # violation
    stream_id: str | None = None
    constraint_id: str | None = None
    description: str | None = None
    details: str | None = None
    time: str | None = None


class CriterionStatus(_Out):
    description: str
    met: bool
    progress: float = Field(ge=0, le=1)
    evidence: list[str] = Field(description="up to five relevant decisions with outcomes")


class GoalViolation(_Out):
    constraint_id: str
    description: str
    details: str
    time: str
    execution_id: str
    stream_id: str


class GoalMetrics(_Out):
    total_decisions: int
    successful_outcomes: int
    failed_outcomes: int
    success_rate: float
    streams_active: int
    executions_total: int


class GoalRecord(_Out):
    """A goal's progress (hive's OutcomeAggregator, docs/goals.md), written by the goal
    stage whenever a fact changed it; the latest per goal id is the goal's state."""

    goal_id: str
    version: int
    name: str
    description: str
    overall_progress: float = Field(ge=0, le=1)
    criteria_status: dict[str, CriterionStatus]
    targets: dict[str, float] = Field(description="each criterion's target rate")
    constraint_violations: list[GoalViolation] = Field(description="the first 20, in time order")
    violations_total: int
    metrics: GoalMetrics
    recommendation: Literal["complete", "adjust", "continue"]


OUTPUT_MODELS: dict[str, type[BaseModel]] = {
    RUNS: RunRecord,
    STAGNATION: StagnationRecord,
    HEALING: HealingRecord,
    ATTRIBUTION: AttributionChain,
    DEADLETTER: DeadLetter,
    GOAL_FACTS: GoalFact,
    GOALS: GoalRecord,
}


def validate_output(record: OutputRecord) -> BaseModel:
    """The record's value as its topic's model; raises pydantic.ValidationError if off-contract."""
    return OUTPUT_MODELS[record.topic].model_validate(record.value)
