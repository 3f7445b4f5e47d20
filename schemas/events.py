"""Wire models of every telemetry event (docs/events.md), one class per `type`.

The envelope is CloudEvents-compatible (structured JSON mode). Inside agentfold the
event time is integer epoch milliseconds (`Event.time`); on the wire and in the JSON
Schemas it is an RFC 3339 string. The worker reads tolerantly (unknown fields are
ignored) but rejects what it cannot fold.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from schemas.timefmt import format_ms, parse_rfc3339_ms

SCHEMA_VERSION = 1
# The numeric domain of the wire format: integers are signed 64-bit (what every JSON
# reader agentfold meets parses exactly); anything beyond is a schema violation.
INT64_MAX = 2**63 - 1
TYPE_PREFIX = "agentfold."
MAX_SNAPSHOT_CHARS = 4096

EventTime = Annotated[
    int,
    BeforeValidator(parse_rfc3339_ms),
    PlainSerializer(format_ms, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Id = Annotated[str, Field(min_length=1, max_length=256)]
Confidence = Annotated[float, Field(allow_inf_nan=False)]
JsonDict = dict[str, Any]

_TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


# ─── data payloads ──────────────────────────────────────────────────────────────────


class DecisionType(StrEnum):
    TOOL_SELECTION = "tool_selection"
    PARAMETER_CHOICE = "parameter_choice"
    PATH_CHOICE = "path_choice"
    OUTPUT_FORMAT = "output_format"
    RETRY_STRATEGY = "retry_strategy"
    DELEGATION = "delegation"
    TERMINATION = "termination"
    CUSTOM = "custom"


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    STUCK = "stuck"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class AttemptOutcome(StrEnum):
    SUCCESS = "success"
    PRECONDITION_FAIL = "precondition_fail"
    SEND_ERROR = "send_error"
    COMPLETION_TIMEOUT = "completion_timeout"
    SKIPPED_BY_POLICY = "skipped_by_policy"


class RunStartedData(_Model):
    goal_id: str = ""
    goal_description: str = ""
    input_data: JsonDict = Field(default_factory=dict)
    stream_id: str = ""


class Option(_Model):
    id: str
    description: str = ""
    action_type: str = "unknown"
    action_params: JsonDict = Field(default_factory=dict)
    pros: list[str] = Field(default_factory=list)
    cons: list[str] = Field(default_factory=list)
    confidence: float = 0.5


class DecisionData(_Model):
    decision_id: Id
    node_id: str = "unknown"
    intent: str
    decision_type: DecisionType = DecisionType.CUSTOM
    options: list[Option] = Field(default_factory=list)
    chosen_option_id: str = ""
    reasoning: str = ""
    active_constraints: list[str] = Field(default_factory=list)
    input_context: JsonDict = Field(default_factory=dict)


class OutcomeData(_Model):
    decision_id: Id
    success: bool
    result: Any = None
    error: str | None = None
    summary: str = ""
    state_changes: JsonDict = Field(default_factory=dict)
    tokens_used: int = Field(default=0, ge=0, le=INT64_MAX)
    latency_ms: int = Field(default=0, ge=0, le=INT64_MAX)


class ProblemData(_Model):
    problem_id: Id
    severity: str = Field(description="critical, warning, or minor")
    description: str
    decision_id: str | None = None
    root_cause: str | None = None
    suggested_fix: str | None = None
    # The constraint of the run's goal this problem violates (docs/goals.md).
    constraint_id: str | None = Field(default=None, max_length=256)


class ActionStartedData(_Model):
    action_id: Id
    action_type: str
    parent_action_id: str | None = None
    expected_outcome: JsonDict = Field(default_factory=dict)
    acceptance_criteria: list[str] = Field(default_factory=list)


class StepData(_Model):
    action_id: Id
    description: str = ""
    state: JsonDict = Field(default_factory=dict)
    decision: str = ""
    confidence: Confidence = 0.5


class ObservationData(_Model):
    action_id: Id
    observation_type: str
    data: JsonDict = Field(default_factory=dict)
    source: str = ""
    confidence: Confidence = 1.0


class MetricData(_Model):
    name: Annotated[str, Field(min_length=1, max_length=256)]
    value: float
    unit: str = ""


class ActionCompletedData(_Model):
    action_id: Id
    outcome: JsonDict = Field(default_factory=dict)


class RunEndedData(_Model):
    success: bool
    narrative: str = ""
    output_data: JsonDict = Field(default_factory=dict)
    status: Literal["completed", "failed", "stuck", "cancelled"] | None = Field(
        default=None, description="overrides the status implied by `success`"
    )
    tokens_used: int = Field(
        default=0,
        ge=0,
        le=INT64_MAX,
        description="tokens the run used outside its decisions' outcomes (model calls "
        "reported by OpenTelemetry), added to the run's total",
    )


class HealingAttemptData(_Model):
    idempotency_key: Annotated[str, Field(pattern=r"^sheal_[0-9a-f]{32}$")]
    attempt: int = Field(ge=1, le=INT64_MAX)
    outcome: AttemptOutcome
    error_code: str | None = None
    elapsed_s: float = Field(ge=0)
    action_type: str = ""
    before: Annotated[str, Field(max_length=MAX_SNAPSHOT_CHARS)] | None = None
    after: Annotated[str, Field(max_length=MAX_SNAPSHOT_CHARS)] | None = None
    truncated: bool = False
    extras: JsonDict = Field(default_factory=dict)


class TickData(_Model):
    partition: int | None = Field(default=None, ge=0, le=INT64_MAX)


GOAL_ITEMS_MAX = 64  # criteria, and constraints, per goal definition


class SuccessCriterion(_Model):
    """hive's SuccessCriterion (SEEDS-GOALS G3): only `success_rate` criteria are scored."""

    id: Id
    description: str
    metric: str = Field(default="", description="descriptive only, never evaluated")
    type: str = "success_rate"
    target: Any = Field(
        default=None, description='"90%", 0.9 or 90: the success rate that meets it (else 0.8)'
    )
    weight: float = Field(default=1.0, ge=0, le=1)


class GoalConstraint(_Model):
    """hive's Constraint (G6): `hard` exactly is hard; the check is docs/goals.md's."""

    id: Id
    description: str
    constraint_type: str = "hard"
    category: str = "general"
    check: str = ""


class GoalDefinedData(_Model):
    goal_id: Id
    version: int = Field(ge=1, le=INT64_MAX, description="a higher version replaces the goal")
    name: str
    description: str = ""
    success_criteria: Annotated[list[SuccessCriterion], Field(max_length=GOAL_ITEMS_MAX)] = Field(
        default_factory=list
    )
    constraints: Annotated[list[GoalConstraint], Field(max_length=GOAL_ITEMS_MAX)] = Field(
        default_factory=list
    )
    partition: int | None = Field(
        default=None, ge=0, le=INT64_MAX, description="the telemetry partition it was written to"
    )


# ─── envelopes ──────────────────────────────────────────────────────────────────────


class _Envelope(_Model):
    """Fields common to every event. `time` is epoch ms in Python, RFC 3339 on the wire."""

    KIND: ClassVar[str] = ""

    specversion: Literal["1.0"] = "1.0"
    id: Id
    source: Id = Field(description="the agent (or worker, or executor) that produced it")
    subject: Id = Field(description="the execution_id; the Kafka message key")
    time: EventTime
    seq: int | None = Field(
        default=None, ge=1, le=INT64_MAX, description="per-execution counter from 1"
    )
    schema_version: Literal[1] = 1
    goal_id: str | None = None
    traceparent: Annotated[str, Field(pattern=_TRACEPARENT)] | None = None


class RunStarted(_Envelope):
    KIND: ClassVar[str] = "run_started"
    type: Literal["agentfold.run_started"] = "agentfold.run_started"
    data: RunStartedData


class Decision(_Envelope):
    KIND: ClassVar[str] = "decision"
    type: Literal["agentfold.decision"] = "agentfold.decision"
    data: DecisionData


class Outcome(_Envelope):
    KIND: ClassVar[str] = "outcome"
    type: Literal["agentfold.outcome"] = "agentfold.outcome"
    data: OutcomeData


class Problem(_Envelope):
    KIND: ClassVar[str] = "problem"
    type: Literal["agentfold.problem"] = "agentfold.problem"
    data: ProblemData


class ActionStarted(_Envelope):
    KIND: ClassVar[str] = "action_started"
    type: Literal["agentfold.action_started"] = "agentfold.action_started"
    data: ActionStartedData


class Step(_Envelope):
    KIND: ClassVar[str] = "step"
    type: Literal["agentfold.step"] = "agentfold.step"
    data: StepData


class Observation(_Envelope):
    KIND: ClassVar[str] = "observation"
    type: Literal["agentfold.observation"] = "agentfold.observation"
    data: ObservationData


class Metric(_Envelope):
    KIND: ClassVar[str] = "metric"
    type: Literal["agentfold.metric"] = "agentfold.metric"
    data: MetricData


class ActionCompleted(_Envelope):
    KIND: ClassVar[str] = "action_completed"
    type: Literal["agentfold.action_completed"] = "agentfold.action_completed"
    data: ActionCompletedData


class RunEnded(_Envelope):
    KIND: ClassVar[str] = "run_ended"
    type: Literal["agentfold.run_ended"] = "agentfold.run_ended"
    data: RunEndedData


class HealingAttempt(_Envelope):
    KIND: ClassVar[str] = "healing_attempt"
    type: Literal["agentfold.healing_attempt"] = "agentfold.healing_attempt"
    data: HealingAttemptData


class Tick(_Envelope):
    """The worker's wall clock, written into the log so that replay sees the same time."""

    KIND: ClassVar[str] = "tick"
    type: Literal["agentfold.tick"] = "agentfold.tick"
    subject: Id | None = None  # type: ignore[assignment]
    data: TickData = Field(default_factory=TickData)


class GoalDefined(_Envelope):
    """A goal's definition, written to every telemetry partition (`agentfold goals
    define`), so that every partition's fold scores the goal's decisions the same way,
    live and on replay."""

    KIND: ClassVar[str] = "goal_defined"
    type: Literal["agentfold.goal_defined"] = "agentfold.goal_defined"
    subject: Id | None = None  # type: ignore[assignment]
    data: GoalDefinedData


Event = (
    RunStarted
    | Decision
    | Outcome
    | Problem
    | ActionStarted
    | Step
    | Observation
    | Metric
    | ActionCompleted
    | RunEnded
    | HealingAttempt
    | Tick
    | GoalDefined
)

EVENT_MODELS: dict[str, type[_Envelope]] = {
    model.KIND: model
    for model in (
        RunStarted,
        Decision,
        Outcome,
        Problem,
        ActionStarted,
        Step,
        Observation,
        Metric,
        ActionCompleted,
        RunEnded,
        HealingAttempt,
        Tick,
        GoalDefined,
    )
}
MODELS_BY_TYPE: dict[str, type[_Envelope]] = {
    TYPE_PREFIX + kind: model for kind, model in EVENT_MODELS.items()
}
KINDS: tuple[str, ...] = tuple(EVENT_MODELS)
