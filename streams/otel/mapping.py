"""OpenTelemetry spans → agentfold events: the one mapping both the bridge and the
in-process exporter use (the table is in docs/opentelemetry.md).

Three conventions are read: the OpenTelemetry GenAI semantic conventions (`gen_ai.*`),
OpenInference (`openinference.span.kind`, `session.id`, `llm.token_count.*`) and
OpenLLMetry/Traceloop (`traceloop.span.kind`, `traceloop.association.properties.*`).

- execution: `gen_ai.conversation.id`, else `session.id`, else a Traceloop association
  property (`session_id`, `conversation_id`, `thread_id`), else the trace id. A span
  that carries none takes the execution another span of its trace named (learned in
  this batch or an earlier one: `Mapper` remembers the newest `remember` traces).
- a root agent or workflow span → `run_started` (at its start) and `run_ended` (at its
  end; failed when the span's status is ERROR); a nested one → a `delegation` decision
  and its outcome, as is a handoff;
- a tool span → a `tool_selection` decision (node: the agent, chosen option: the tool)
  at its start and its outcome at its end: success unless the status is ERROR or
  `error.type` is set, latency the span's duration, the result what the repetition
  signal compares (`_result`: the same failing call repeats with the same result);
- an LLM span → token metrics (`gen_ai.usage.input_tokens` / `output_tokens`, read also
  from `llm.token_count.prompt` / `completion`), and its tokens on the run (`run_ended`
  carries them: the root span's own usage, else the sum its trace's model calls
  reported); an LLM call is not a decision, so a model answering between two failing
  tool calls does not break their streak;
- span events named `exception` (and any event of a span in ERROR) → `problem`s.

Every event id is derived from the trace id, the span id and what was mapped, so the
same spans bridged twice give the same events (the fold drops the repeat). Whatever is
not mapped is counted by reason, never an error. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.envelope import envelope
from streams.otel.spans import Attr, SpanView

SOURCE_PREFIX = "otel"
TEXT_MAX = 1000  # characters of a span's text copied into an event
TRACEPARENT_FLAGS = "01"

_SESSION_PROPERTIES = ("session_id", "conversation_id", "thread_id")
_AGENT_OPERATIONS = frozenset({"invoke_agent", "invoke_workflow"})
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
_TOKEN_METRICS = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")


@dataclass(slots=True)
class Mapped:
    """Events (JSON-ready envelopes, in span order) and what was left out, by reason."""

    events: list[dict[str, Any]] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)


def _text(value: Attr) -> str:
    return "" if value is None else str(value)[:TEXT_MAX]


def _int(value: Attr) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def role(span: SpanView) -> str | None:
    """agent, tool, llm, handoff — or None (not mapped)."""
    a = span.attributes
    op = _text(a.get("gen_ai.operation.name")).lower()
    oi = _text(a.get("openinference.span.kind")).upper()
    tl = _text(a.get("traceloop.span.kind")).lower()
    if op == "handoff" or span.name.lower().startswith("handoff"):
        return "handoff"
    if op in _AGENT_OPERATIONS or oi == "AGENT" or tl in ("workflow", "agent"):
        return "agent"
    if op == "execute_tool" or oi == "TOOL" or tl == "tool":
        return "tool"
    # A model call: by its operation or kind, or by the provider it names (the newer
    # gen_ai.provider.name, or gen_ai.system as Traceloop and older instrumentations say).
    if (
        op in _LLM_OPERATIONS
        or oi == "LLM"
        or "gen_ai.provider.name" in a
        or "gen_ai.system" in a
        or "gen_ai.usage.input_tokens" in a
    ):
        return "llm"
    return None


def explicit_execution(span: SpanView) -> str | None:
    a = span.attributes
    for key in ("gen_ai.conversation.id", "session.id"):
        value = _text(a.get(key))
        if value:
            return value
    for name in _SESSION_PROPERTIES:
        value = _text(a.get(f"traceloop.association.properties.{name}"))
        if value:
            return value
    return None


class Mapper:
    """Maps batches of spans, remembering which execution each recent trace belongs to
    (bounded: the newest `remember` traces)."""

    def __init__(self, remember: int = 100_000) -> None:
        self.remember = remember
        self._trace_execution: OrderedDict[str, str] = OrderedDict()
        self._trace_tokens: OrderedDict[str, int] = OrderedDict()  # model calls' tokens

    def _remember(self, known: OrderedDict[str, Any], trace_id: str, value: Any) -> None:
        if trace_id in known:
            known.move_to_end(trace_id)
        known[trace_id] = value
        while len(known) > self.remember:
            known.popitem(last=False)

    def map(self, spans: Iterable[SpanView]) -> Mapped:
        spans = list(spans)
        # First what the whole batch says about its traces: a child ends (and may be
        # exported) before its root, and the root is mapped first below (by start).
        for span in spans:
            execution = explicit_execution(span)
            if execution is not None:
                self._remember(self._trace_execution, span.trace_id, execution)
            if role(span) == "llm":
                used = sum(_tokens(span.attributes))
                if used:
                    total = self._trace_tokens.get(span.trace_id, 0) + used
                    self._remember(self._trace_tokens, span.trace_id, total)
        out = Mapped()
        for span in sorted(spans, key=lambda s: (s.start_ns, s.end_ns, s.span_id)):
            kind = role(span)
            if kind is None:
                out.ignored["span_without_agent_role"] += 1
                continue
            execution = (
                explicit_execution(span)
                or self._trace_execution.get(span.trace_id)
                or f"trace-{span.trace_id}"
            )
            tokens = 0
            if kind == "agent" and span.parent_span_id is None:
                # The run's tokens: the agent span's own usage (GenAI puts the
                # invocation's total there), else what its model calls reported.
                own = sum(_tokens(span.attributes))
                tokens = own or self._trace_tokens.pop(span.trace_id, 0)
            _map_span(span, kind, execution, out, tokens)
        return out


def _tokens(a: Mapping[str, Attr]) -> tuple[int, int]:
    """(input, output) tokens of a span: GenAI, else OpenInference names; 0 if absent."""
    used = []
    for keys in (
        ("gen_ai.usage.input_tokens", "llm.token_count.prompt"),
        ("gen_ai.usage.output_tokens", "llm.token_count.completion"),
    ):
        used.append(next((v for k in keys if (v := _int(a.get(k))) is not None), 0))
    return used[0], used[1]


def _ms(ns: int) -> int:
    return ns // 1_000_000


def _source(span: SpanView) -> str:
    service = _text(span.resource.get("service.name"))
    return f"{SOURCE_PREFIX}:{service}" if service else SOURCE_PREFIX


def _agent_name(span: SpanView) -> str:
    a = span.attributes
    for key in ("gen_ai.agent.name", "traceloop.entity.name", "agent.name"):
        value = _text(a.get(key))
        if value:
            return value
    # OpenInference names an agent span after the agent; GenAI as "invoke_agent {name}"
    name = span.name.removeprefix("invoke_agent ").removeprefix("invoke_workflow ").strip()
    return name[:TEXT_MAX] or _text(span.resource.get("service.name")) or "agent"


def _failed(span: SpanView) -> bool:
    return span.error or bool(span.attributes.get("error.type"))


def _error(span: SpanView) -> str | None:
    if not _failed(span):
        return None
    return _text(span.attributes.get("error.type")) or span.status_message[:TEXT_MAX] or "error"


def _map_span(span: SpanView, kind: str, execution: str, out: Mapped, tokens: int) -> None:
    base = f"{SOURCE_PREFIX}:{span.trace_id}:{span.span_id}"
    common: dict[str, Any] = {
        "source": _source(span),
        "subject": execution,
        "traceparent": f"00-{span.trace_id}-{span.span_id}-{TRACEPARENT_FLAGS}",
    }
    start, end = _ms(span.start_ns), _ms(max(span.end_ns, span.start_ns))
    events = out.events
    a = span.attributes
    if kind == "agent" and span.parent_span_id is None:
        goal = _agent_name(span)
        events.append(
            envelope(
                "run_started",
                id=f"{base}:run_started",
                time_ms=start,
                goal_id=goal,
                data={
                    "goal_id": goal,
                    "goal_description": _text(a.get("gen_ai.agent.description")),
                },
                **common,
            )
        )
        _problems(span, base, common, events)
        events.append(
            envelope(
                "run_ended",
                id=f"{base}:run_ended",
                time_ms=end,
                data={
                    "success": not _failed(span),
                    "narrative": span.status_message[:TEXT_MAX],
                    "tokens_used": tokens,
                },
                **common,
            )
        )
        return
    if kind == "llm":
        for metric, value in zip(_TOKEN_METRICS, _tokens(a), strict=True):
            if not value:
                continue
            events.append(
                envelope(
                    "metric",
                    id=f"{base}:{metric}",
                    time_ms=end,
                    data={"name": metric, "value": value, "unit": "{token}"},
                    **common,
                )
            )
        _problems(span, base, common, events)
        return
    # a tool call, a handoff, or an agent invoked by another: a decision and its outcome
    if kind == "tool":
        chosen = _text(a.get("gen_ai.tool.name") or a.get("tool.name")) or span.name[:TEXT_MAX]
        decision_type, intent = "tool_selection", f"call {chosen}"
        description = _text(a.get("gen_ai.tool.description") or a.get("tool.description"))
    else:
        chosen = _agent_name(span) if kind == "agent" else span.name[:TEXT_MAX]
        decision_type, intent, description = "delegation", f"hand over to {chosen}", ""
    decision_id = f"{SOURCE_PREFIX}-{span.span_id}"
    node = _text(a.get("gen_ai.agent.name")) or _text(span.resource.get("service.name")) or "agent"
    events.append(
        envelope(
            "decision",
            id=f"{base}:decision",
            time_ms=start,
            data={
                "decision_id": decision_id,
                "node_id": node,
                "intent": intent,
                "decision_type": decision_type,
                "options": [{"id": chosen, "description": description, "action_type": kind}],
                "chosen_option_id": chosen,
            },
            **common,
        )
    )
    _problems(span, base, common, events)
    error = _error(span)
    events.append(
        envelope(
            "outcome",
            id=f"{base}:outcome",
            time_ms=end,
            data={
                "decision_id": decision_id,
                "success": error is None,
                "result": _result(span, error),
                "error": error,
                "summary": span.status_message[:TEXT_MAX],
                "latency_ms": end - start,
            },
            **common,
        )
    )


def _result(span: SpanView, error: str | None) -> Any:
    """What the repetition signal compares: the same call with the same result, counted
    ≥ 3 times in a window, is a loop. A failure's result is its error (the same failing
    call, again and again, is the loop to catch); a success's is its recorded arguments
    and result when the instrumentation records them (`gen_ai.tool.call.arguments` /
    `.result`, opt-in), else the span itself — unknown results never count as the same."""
    a = span.attributes
    recorded = [_text(a.get("gen_ai.tool.call.arguments")), _text(a.get("gen_ai.tool.call.result"))]
    if error is not None:
        return [error, recorded[0]] if recorded[0] else error
    if recorded[1]:
        return recorded
    return f"span {span.span_id}"


def _problems(
    span: SpanView, base: str, common: Mapping[str, Any], events: list[dict[str, Any]]
) -> None:
    for i, event in enumerate(span.events):
        if event.name != "exception" and not span.error:
            continue
        a = event.attributes
        kind = _text(a.get("exception.type")) or event.name[:TEXT_MAX]
        message = _text(a.get("exception.message"))
        events.append(
            envelope(
                "problem",
                id=f"{base}:problem:{i}",
                time_ms=_ms(event.time_ns),
                data={
                    "problem_id": f"{SOURCE_PREFIX}-{span.span_id}-{i}",
                    "severity": "warning",
                    "description": f"{kind}: {message}" if message else kind,
                    "decision_id": f"{SOURCE_PREFIX}-{span.span_id}",
                    "root_cause": kind,
                },
                **common,
            )
        )
