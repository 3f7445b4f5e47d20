"""Decoded events as the fold reads them: plain classes, compiled with the fold.

`schemas/events.py` is the wire contract (pydantic: validation, JSON Schema, the
SDK's outbound events). Building a pydantic model per event costs several µs, most
of the worker's time per event, so decoding produces these records instead: one
class per event type with the same field names, types and defaults as its model,
`time` in epoch milliseconds. mypyc compiles this module with `processors/`
(streams/native.py), which makes building a record and reading its fields cheap.

Two ways in, one result: `schemas/fastdecode.py` builds records straight from parsed
JSON for the common, clean case; anything else is validated by the pydantic models
and converted with `from_model`. tests/schemas/test_records.py holds both to the same
result and these classes to the models' fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas import events as wire
from schemas.events import AttemptOutcome, DecisionType
from schemas.timefmt import format_ms

JsonDict = dict[str, Any]

# Plain classes with their own __init__, not dataclasses: mypyc compiles these into
# native constructors, ten times faster than a dataclass's generated one. Every
# argument is required (decoders always pass every field); fields are in the order of
# the model's required fields first.


class Record:
    """Equality and repr by field, for tests and error messages."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and as_dict(self) == as_dict(other)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in as_dict(self).items())
        return f"{type(self).__name__}({inner})"


class Envelope(Record):
    """Fields common to every event; `subject` is None only on a Tick, `time` is epoch ms."""

    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
    ) -> None:
        self.id = id
        self.source = source
        self.subject = subject
        self.time = time
        self.seq = seq
        self.goal_id = goal_id
        self.traceparent = traceparent


class RunStartedData(Record):
    def __init__(
        self, goal_id: str, goal_description: str, input_data: JsonDict, stream_id: str
    ) -> None:
        self.goal_id = goal_id
        self.goal_description = goal_description
        self.input_data = input_data
        self.stream_id = stream_id


class Option(Record):
    def __init__(
        self,
        id: str,
        description: str,
        action_type: str,
        action_params: JsonDict,
        pros: list[str],
        cons: list[str],
        confidence: float,
    ) -> None:
        self.id = id
        self.description = description
        self.action_type = action_type
        self.action_params = action_params
        self.pros = pros
        self.cons = cons
        self.confidence = confidence


class DecisionData(Record):
    def __init__(
        self,
        decision_id: str,
        intent: str,
        node_id: str,
        decision_type: DecisionType,
        options: list[Option],
        chosen_option_id: str,
        reasoning: str,
        active_constraints: list[str],
        input_context: JsonDict,
    ) -> None:
        self.decision_id = decision_id
        self.intent = intent
        self.node_id = node_id
        self.decision_type = decision_type
        self.options = options
        self.chosen_option_id = chosen_option_id
        self.reasoning = reasoning
        self.active_constraints = active_constraints
        self.input_context = input_context


class OutcomeData(Record):
    def __init__(
        self,
        decision_id: str,
        success: bool,
        result: Any,
        error: str | None,
        summary: str,
        state_changes: JsonDict,
        tokens_used: int,
        latency_ms: int,
    ) -> None:
        self.decision_id = decision_id
        self.success = success
        self.result = result
        self.error = error
        self.summary = summary
        self.state_changes = state_changes
        self.tokens_used = tokens_used
        self.latency_ms = latency_ms


class ProblemData(Record):
    def __init__(
        self,
        problem_id: str,
        severity: str,
        description: str,
        decision_id: str | None,
        root_cause: str | None,
        suggested_fix: str | None,
        constraint_id: str | None = None,
    ) -> None:
        self.problem_id = problem_id
        self.severity = severity
        self.description = description
        self.decision_id = decision_id
        self.root_cause = root_cause
        self.suggested_fix = suggested_fix
        self.constraint_id = constraint_id


class ActionStartedData(Record):
    def __init__(
        self,
        action_id: str,
        action_type: str,
        parent_action_id: str | None,
        expected_outcome: JsonDict,
        acceptance_criteria: list[str],
    ) -> None:
        self.action_id = action_id
        self.action_type = action_type
        self.parent_action_id = parent_action_id
        self.expected_outcome = expected_outcome
        self.acceptance_criteria = acceptance_criteria


class StepData(Record):
    def __init__(
        self, action_id: str, description: str, state: JsonDict, decision: str, confidence: float
    ) -> None:
        self.action_id = action_id
        self.description = description
        self.state = state
        self.decision = decision
        self.confidence = confidence


class ObservationData(Record):
    def __init__(
        self, action_id: str, observation_type: str, data: JsonDict, source: str, confidence: float
    ) -> None:
        self.action_id = action_id
        self.observation_type = observation_type
        self.data = data
        self.source = source
        self.confidence = confidence


class MetricData(Record):
    def __init__(self, name: str, value: float, unit: str) -> None:
        self.name = name
        self.value = value
        self.unit = unit


class ActionCompletedData(Record):
    def __init__(self, action_id: str, outcome: JsonDict) -> None:
        self.action_id = action_id
        self.outcome = outcome


class RunEndedData(Record):
    def __init__(
        self,
        success: bool,
        narrative: str,
        output_data: JsonDict,
        status: str | None,
        tokens_used: int = 0,
    ) -> None:
        self.success = success
        self.narrative = narrative
        self.output_data = output_data
        self.status = status
        self.tokens_used = tokens_used


class HealingAttemptData(Record):
    def __init__(
        self,
        idempotency_key: str,
        attempt: int,
        outcome: AttemptOutcome,
        elapsed_s: float,
        error_code: str | None,
        action_type: str,
        before: str | None,
        after: str | None,
        truncated: bool,
        extras: JsonDict,
    ) -> None:
        self.idempotency_key = idempotency_key
        self.attempt = attempt
        self.outcome = outcome
        self.elapsed_s = elapsed_s
        self.error_code = error_code
        self.action_type = action_type
        self.before = before
        self.after = after
        self.truncated = truncated
        self.extras = extras


class TickData(Record):
    def __init__(self, partition: int | None) -> None:
        self.partition = partition


class SuccessCriterion(Record):
    def __init__(
        self, id: str, description: str, metric: str, type: str, target: Any, weight: float
    ) -> None:
        self.id = id
        self.description = description
        self.metric = metric
        self.type = type
        self.target = target
        self.weight = weight


class GoalConstraint(Record):
    def __init__(
        self, id: str, description: str, constraint_type: str, category: str, check: str
    ) -> None:
        self.id = id
        self.description = description
        self.constraint_type = constraint_type
        self.category = category
        self.check = check


class GoalDefinedData(Record):
    def __init__(
        self,
        goal_id: str,
        version: int,
        name: str,
        description: str,
        success_criteria: list[SuccessCriterion],
        constraints: list[GoalConstraint],
        partition: int | None,
    ) -> None:
        self.goal_id = goal_id
        self.version = version
        self.name = name
        self.description = description
        self.success_criteria = success_criteria
        self.constraints = constraints
        self.partition = partition


class RunStarted(Envelope):
    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
        data: RunStartedData,
    ) -> None:
        super().__init__(id, source, subject, time, seq, goal_id, traceparent)
        self.data = data


class Decision(Envelope):
    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
        data: DecisionData,
    ) -> None:
        super().__init__(id, source, subject, time, seq, goal_id, traceparent)
        self.data = data


class Outcome(Envelope):
    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
        data: OutcomeData,
    ) -> None:
        super().__init__(id, source, subject, time, seq, goal_id, traceparent)
        self.data = data


class Problem(Envelope):
    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
        data: ProblemData,
    ) -> None:
        super().__init__(id, source, subject, time, seq, goal_id, traceparent)
        self.data = data


class ActionStarted(Envelope):
    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
        data: ActionStartedData,
    ) -> None:
        super().__init__(id, source, subject, time, seq, goal_id, traceparent)
        self.data = data


class Step(Envelope):
    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
        data: StepData,
    ) -> None:
        super().__init__(id, source, subject, time, seq, goal_id, traceparent)
        self.data = data


class Observation(Envelope):
    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
        data: ObservationData,
    ) -> None:
        super().__init__(id, source, subject, time, seq, goal_id, traceparent)
        self.data = data


class Metric(Envelope):
    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
        data: MetricData,
    ) -> None:
        super().__init__(id, source, subject, time, seq, goal_id, traceparent)
        self.data = data


class ActionCompleted(Envelope):
    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
        data: ActionCompletedData,
    ) -> None:
        super().__init__(id, source, subject, time, seq, goal_id, traceparent)
        self.data = data


class RunEnded(Envelope):
    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
        data: RunEndedData,
    ) -> None:
        super().__init__(id, source, subject, time, seq, goal_id, traceparent)
        self.data = data


class HealingAttempt(Envelope):
    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
        data: HealingAttemptData,
    ) -> None:
        super().__init__(id, source, subject, time, seq, goal_id, traceparent)
        self.data = data


class Tick(Envelope):
    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
        data: TickData,
    ) -> None:
        super().__init__(id, source, subject, time, seq, goal_id, traceparent)
        self.data = data


class GoalDefined(Envelope):
    def __init__(
        self,
        id: str,
        source: str,
        subject: str | None,
        time: int,
        seq: int | None,
        goal_id: str | None,
        traceparent: str | None,
        data: GoalDefinedData,
    ) -> None:
        super().__init__(id, source, subject, time, seq, goal_id, traceparent)
        self.data = data


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

# record class, its data class and its wire model, by event kind
KINDS: dict[str, tuple[Callable[..., Event], type[Any], type[wire._Envelope]]] = {
    "run_started": (RunStarted, RunStartedData, wire.RunStarted),
    "decision": (Decision, DecisionData, wire.Decision),
    "outcome": (Outcome, OutcomeData, wire.Outcome),
    "problem": (Problem, ProblemData, wire.Problem),
    "action_started": (ActionStarted, ActionStartedData, wire.ActionStarted),
    "step": (Step, StepData, wire.Step),
    "observation": (Observation, ObservationData, wire.Observation),
    "metric": (Metric, MetricData, wire.Metric),
    "action_completed": (ActionCompleted, ActionCompletedData, wire.ActionCompleted),
    "run_ended": (RunEnded, RunEndedData, wire.RunEnded),
    "healing_attempt": (HealingAttempt, HealingAttemptData, wire.HealingAttempt),
    "tick": (Tick, TickData, wire.Tick),
    "goal_defined": (GoalDefined, GoalDefinedData, wire.GoalDefined),
}
# the kind of an event, by its record class
KIND_OF: dict[object, str] = {record: kind for kind, (record, _, _) in KINDS.items()}
_BY_MODEL: dict[type[Any], tuple[Callable[..., Event], type[Any]]] = {
    model: (record, data) for record, data, model in KINDS.values()
}
_MODEL_OF: dict[object, type[wire._Envelope]] = {
    record: model for record, _, model in KINDS.values()
}


# Field names of each record class, taken from its model: the records mirror the models.
ENVELOPE_FIELDS: tuple[str, ...] = (
    "id",
    "source",
    "subject",
    "time",
    "seq",
    "goal_id",
    "traceparent",
    "data",
)
_FIELDS: dict[object, tuple[str, ...]] = {
    Option: tuple(wire.Option.model_fields),
    SuccessCriterion: tuple(wire.SuccessCriterion.model_fields),
    GoalConstraint: tuple(wire.GoalConstraint.model_fields),
}
for _record, _data, _model in KINDS.values():
    _FIELDS[_record] = ENVELOPE_FIELDS
    _FIELDS[_data] = tuple(_model.model_fields["data"].annotation.model_fields)  # type: ignore[union-attr]


def as_dict(record: Record) -> dict[str, Any]:
    """The record's fields by name (nested records stay records)."""
    return {name: getattr(record, name) for name in _FIELDS[type(record)]}


def from_model(model: wire._Envelope) -> Event:
    """The record of a validated wire model: the same values, field for field."""
    record_cls, data_cls = _BY_MODEL[type(model)]
    # A model's fields are its __dict__ (extra fields are ignored, so nothing else).
    # Read from there, not as attributes: compiled code would check each against the
    # base model's declared type, and a Tick's subject may be None.
    f: dict[str, Any] = model.__dict__
    payload: dict[str, Any] = f["data"].__dict__
    if data_cls is DecisionData:
        payload = {**payload, "options": [Option(**o.__dict__) for o in payload["options"]]}
    elif data_cls is GoalDefinedData:
        payload = {
            **payload,
            "success_criteria": [
                SuccessCriterion(**c.__dict__) for c in payload["success_criteria"]
            ],
            "constraints": [GoalConstraint(**c.__dict__) for c in payload["constraints"]],
        }
    return record_cls(
        f["id"],
        f["source"],
        f["subject"],
        f["time"],
        f["seq"],
        f["goal_id"],
        f["traceparent"],
        data_cls(**payload),
    )


def to_model(record: Envelope) -> wire._Envelope:
    """The wire model of a record (validated again, so a hand-made record is checked)."""
    return _MODEL_OF[type(record)].model_validate(to_wire(record))


def to_wire(record: Envelope) -> dict[str, Any]:
    """The record as the JSON object of its wire model (validated by the caller)."""
    model = _MODEL_OF[type(record)]
    obj = as_dict(record)
    obj["time"] = format_ms(record.time)
    obj["data"] = _plain(obj["data"])
    obj["type"] = model.model_fields["type"].default
    return obj


def _plain(value: object) -> object:
    if isinstance(value, Record):
        return {k: _plain(v) for k, v in as_dict(value).items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
