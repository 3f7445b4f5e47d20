"""An agent instrumented only with OpenTelemetry, fed to agentfold in process.

It calls the same failing tool again and again, as a stuck agent does; its spans carry
the GenAI semantic conventions' attributes (what an instrumentation library sets), and
one span processor — `AgentfoldSpanExporter` — is all the agentfold it knows. Then the
telemetry topic is folded as an analyst would replay it, and the healing plan printed.

    .venv/bin/python examples/otel_agent.py            # on an embedded broker
    .venv/bin/python examples/otel_agent.py HOST:PORT  # on yours (topics created)

The spans are stamped on a simulated clock two hours long, so that the first 90-minute
window closes without waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from processors.config import FoldConfig
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.topics import create_topics
from streams.otel import AgentfoldSpanExporter
from streams.replay.rebuild import ReplayRequest, replay
from streams.sdk import Recorder

MIN_NS = 60 * 1_000_000_000
WINDOW_NS = 90 * MIN_NS


def stuck_agent(tracer: trace.Tracer, start_ns: int, conversation: str) -> None:
    """Eight calls of a search tool that times out, one every five minutes; the agent's
    own span never ends (it is stuck)."""
    agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "researcher"}
    common = {"gen_ai.conversation.id": conversation, "gen_ai.agent.name": "researcher"}
    root = tracer.start_span(
        "invoke_agent researcher", attributes={**agent, **common}, start_time=start_ns
    )
    with trace.use_span(root, end_on_exit=False):
        for i in range(8):
            at = start_ns + i * 5 * MIN_NS
            tool = {**common, "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
            span = tracer.start_span("execute_tool search", attributes=tool, start_time=at)
            span.set_attribute("error.type", "TimeoutError")
            span.set_status(Status(StatusCode.ERROR, "search timed out"))
            span.end(end_time=at + 30 * 1_000_000_000)


def another_agent_later(tracer: trace.Tracer, start_ns: int) -> None:
    """Something else on the same partition, two hours on: stream time moves past the
    stuck agent's first window, which then closes."""
    attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": "later"}
    span = tracer.start_span("invoke_agent other", attributes=attrs, start_time=start_ns)
    span.end(end_time=start_ns + MIN_NS)


@contextlib.contextmanager
def a_broker(given: str | None) -> Iterator[str]:
    if given:
        yield given
        return
    with EmbeddedBroker() as bootstrap:
        yield bootstrap


def main() -> int:
    with a_broker(sys.argv[1] if len(sys.argv) > 1 else None) as broker:
        prefix = f"otel-example-{int(time.time())}"
        asyncio.run(create_topics(broker, prefix, 1))
        provider = TracerProvider(resource=Resource.create({"service.name": "researcher"}))
        exporter = AgentfoldSpanExporter(Recorder(broker, topic_prefix=prefix), close_recorder=True)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        tracer = provider.get_tracer("example")
        window_start = time.time_ns() // WINDOW_NS * WINDOW_NS - 2 * WINDOW_NS
        stuck_agent(tracer, window_start, "conversation-42")
        another_agent_later(tracer, window_start + 2 * WINDOW_NS)
        provider.shutdown()  # exports what is left and closes the recorder: delivered
        print(f"{exporter.events} events from OpenTelemetry spans in {prefix}.telemetry")
        with replay(ReplayRequest(broker, prefix), FoldConfig()) as result:
            plans = [r.value for _, r in result.records() if r.topic == "healing"]
            windows = [r.value for _, r in result.records() if r.topic == "stagnation"]
    for w in windows:
        print(f"window {w['window_start']} {w['execution_id']}: score {w['score']} ({w['signal']})")
    for p in plans:
        print(f"healing {p['status']} for {p['execution_id']}: {p['action_type']} ({p['tier']})")
    return 0 if any(p["status"] == "planned" for p in plans) else 1


if __name__ == "__main__":
    sys.exit(main())
