"""The OTLP bridge's throughput, with the raw-consumer ceiling, in one run.

  (a) raw     aiokafka consume + protobuf parse of every OTLP message — the ceiling
  (b) bridge  `agentfold bridge otlp`: parse, map, validate, encode, produce, commit

The spans are made by the OpenTelemetry SDK (agents alternating model calls and tool
calls, GenAI conventions) and encoded by its OTLP encoder into messages of --per-message
spans, as the Collector's Kafka exporter writes them. (b) is timed between commits while
busy (bench/live.py), --rounds times in fresh groups; the median is printed with its
ratio to (a) and its CPU time per span.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from typing import Any

from benchbroker import add_broker_arg, bench_broker
from ceiling import raw_consume
from live import timed_group
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from streams.kafka import clients
from streams.kafka.topics import create_topics, ensure_topic

MS = 1_000_000


def make_spans(n_spans: int, n_agents: int) -> list[ReadableSpan]:
    """Agents taking turns: a model call, then a tool call (one in five fails)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    t = 1_795_338_000_000 * MS
    for i in range(n_spans):
        agent = i % n_agents
        common: dict[str, Any] = {
            "gen_ai.conversation.id": f"conv-{agent}",
            "gen_ai.agent.name": f"a{agent}",
        }
        if i // n_agents % 2 == 0:
            attrs = {**common, "gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 100}
            name = "chat"
        else:
            attrs = {**common, "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "s"}
            if i % 5 == 0:
                attrs["error.type"] = "TimeoutError"
            name = "execute_tool s"
        span = tracer.start_span(name, attributes=attrs, start_time=t + i * MS)
        span.end(end_time=t + i * MS + MS // 2)
    provider.shutdown()
    return list(exporter.get_finished_spans())


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = clients.producer(bootstrap, linger_ms=5, max_request_size=8 << 20)
    await clients.start(producer, bootstrap)
    try:
        for value in values:
            await producer.send(topic, value)
        await producer.flush()
    finally:
        await clients.close(producer)


def spans_in(value: bytes) -> int:
    """Parse one OTLP message as the bridge must; its span count."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(value)
    return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--per-message", type=int, default=200, help="spans per OTLP message")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    add_broker_arg(parser)
    args = parser.parse_args()
    spans = make_spans(args.spans, args.agents)
    messages = [
        encode_spans(spans[i : i + args.per_message]).SerializeToString()
        for i in range(0, len(spans), args.per_message)
    ]
    size = sum(len(v) for v in messages) / len(spans)
    with bench_broker(args.broker) as (bs, prefix, where):
        ns = f"{prefix}otel"
        source = f"{ns}-otlp_spans"
        asyncio.run(create_topics(bs, ns, args.partitions))
        asyncio.run(ensure_topic(bs, source, args.partitions))
        asyncio.run(produce(bs, source, messages))
        print(
            f"bench/bridge.py: {len(spans):,} spans in {len(messages):,} OTLP messages "
            f"({args.per_message} spans, {size:.0f} B/span), {args.agents} agents, "
            f"{args.partitions} partitions, {where}"
        )
        raw_spans, raw_s = asyncio.run(raw_consume(bs, source, spans_in))
        raw = raw_spans / raw_s
        print(f"  {'(a) raw aiokafka + protobuf parse':<34} {raw:>10,.0f} spans/s")
        rates, cpu = [], []
        for r in range(args.rounds):
            group = f"{ns}-bridge-{r}"
            cmd = [sys.executable, "-m", "streams.cli", "bridge", "otlp", "--broker", bs]
            cmd += ["--prefix", ns, "--from", source, "--group", group, "--no-web"]
            cmd += ["--session-timeout", "2", "--heartbeat-interval", "0.3"]
            timing = timed_group(bs, group, source, cmd, dict(os.environ))
            rates.append(len(spans) / timing.seconds)
            if timing.cpu_seconds is not None:
                cpu.append(timing.cpu_seconds / len(spans) * 1e6)
        rate = statistics.median(rates)
        cpu_text = f"   CPU {statistics.median(cpu):5.1f} µs/span" if cpu else ""
        print(
            f"  {'(b) agentfold bridge otlp':<34} {rate:>10,.0f} spans/s   {rate / raw:5.2f}× raw"
            f"{cpu_text}   runs " + ", ".join(f"{x:,.0f}" for x in rates)
        )


if __name__ == "__main__":
    main()
