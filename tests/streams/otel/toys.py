"""Toy agents instrumented with the real OpenTelemetry SDK, on a simulated clock: spans
carry the timestamps a run of that length would have. What each emits is what the
GenAI semantic conventions (and OpenInference, for one of them) say an instrumented
agent emits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

T0_NS = 1_795_338_000_000_000_000  # 2026-11-22T09:00:00Z: a window start (90-min windows)
MIN_NS = 60 * 1_000_000_000


class Clock:
    def __init__(self, start_ns: int) -> None:
        self.ns = start_ns

    def tick(self, minutes: float = 1) -> int:
        self.ns += int(minutes * MIN_NS)
        return self.ns


@contextmanager
def span(
    tracer: trace.Tracer, clock: Clock, name: str, attributes: dict[str, Any], minutes: float = 1
) -> Iterator[trace.Span]:
    s = tracer.start_span(name, attributes=attributes, start_time=clock.ns)
    with trace.use_span(s, end_on_exit=False):
        yield s
    s.end(end_time=clock.tick(minutes))


def _tool(
    tracer: trace.Tracer, clock: Clock, conv: str, agent: str, tool: str, error: str | None
) -> None:
    attrs = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        "gen_ai.agent.name": agent,
        "gen_ai.conversation.id": conv,
    }
    with span(tracer, clock, f"execute_tool {tool}", attrs) as s:
        if error is not None:
            s.set_attribute("error.type", error)
            s.set_status(Status(StatusCode.ERROR, f"{tool} failed: {error}"))
            s.record_exception(TimeoutError(f"{tool} timed out"), timestamp=clock.ns)


def _chat(tracer: trace.Tracer, clock: Clock, conv: str, agent: str) -> None:
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-x",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.agent.name": agent,
        "gen_ai.conversation.id": conv,
    }
    with span(tracer, clock, "chat gpt-x", attrs):
        pass


def _agent_attrs(agent: str, conv: str) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": agent,
        "gen_ai.conversation.id": conv,
    }


def looping(tracer: trace.Tracer, start_ns: int) -> None:
    """Calls the same failing tool again and again; never ends (its root span stays open,
    as a stuck agent's does)."""
    clock = Clock(start_ns)
    root = tracer.start_span(
        "invoke_agent looper", _agent_attrs("looper", "conv-loop"), start_time=clock.ns
    )
    with trace.use_span(root, end_on_exit=False):
        for _ in range(8):
            _chat(tracer, clock, "conv-loop", "looper")
            _tool(tracer, clock, "conv-loop", "looper", "search", "TimeoutError")


def succeeding(tracer: trace.Tracer, start_ns: int) -> None:
    clock = Clock(start_ns)
    with span(tracer, clock, "invoke_agent helper", _agent_attrs("helper", "conv-ok")):
        for tool in ("search", "search", "search", "summarise"):
            _chat(tracer, clock, "conv-ok", "helper")
            _tool(tracer, clock, "conv-ok", "helper", tool, None)


def handing_off(tracer: trace.Tracer, start_ns: int) -> None:
    """OpenInference-style: session.id on every span; a handoff to a specialist agent."""
    clock = Clock(start_ns)
    base = {"session.id": "conv-handoff"}
    with span(tracer, clock, "triage", {**base, "openinference.span.kind": "AGENT"}):
        with span(
            tracer,
            clock,
            "lookup",
            {**base, "openinference.span.kind": "TOOL", "tool.name": "lookup"},
        ):
            pass
        with span(
            tracer, clock, "handoff to specialist", {**base, "gen_ai.operation.name": "handoff"}
        ):
            pass
        llm = {
            **base,
            "openinference.span.kind": "LLM",
            "llm.token_count.prompt": 50,
            "llm.token_count.completion": 7,
        }
        specialist = {**base, "openinference.span.kind": "AGENT"}
        with span(tracer, clock, "specialist", specialist), span(tracer, clock, "llm", llm):
            pass


def fleet() -> list[ReadableSpan]:
    """The three agents at 09:00, and a late run at 13:00 that moves stream time past the
    first window's end (so the fold closes it). In the order the SDK finished them."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "toy"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("toys")
    looping(tracer, T0_NS)
    succeeding(tracer, T0_NS)
    handing_off(tracer, T0_NS)
    succeeding_late = Clock(T0_NS + 240 * MIN_NS)
    with span(tracer, succeeding_late, "invoke_agent late", _agent_attrs("late", "conv-late")):
        _tool(tracer, succeeding_late, "conv-late", "late", "search", None)
    provider.shutdown()
    return list(exporter.get_finished_spans())


def batches(spans: list[ReadableSpan], size: int = 7) -> list[list[ReadableSpan]]:
    """As a BatchSpanProcessor hands them to an exporter: in finishing order, in chunks."""
    return [spans[i : i + size] for i in range(0, len(spans), size)]
