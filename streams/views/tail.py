"""`agentfold tail TOPIC`: any agentfold topic, one readable line per record.

Follows the topic like `tail -f` until Ctrl-C (or, with `to_end`, stops at the end
offsets taken at the start). Colour only on a terminal; `--json` prints the raw values.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, TextIO

import orjson
from aiokafka import TopicPartition

from schemas.errors import InputError
from schemas.outputs import GOAL_FACTS, LIVE_OUTPUT_TOPICS, TELEMETRY
from streams.kafka import clients
from streams.kafka.topicio import end_offsets
from streams.kafka.topics import topic_name
from streams.views.render import CYAN, DIM, LINES, RED, about, clock, describe, paint


def _event(e: Any, on: bool) -> str:
    if not isinstance(e, dict):
        return paint("(not an event object)", RED, on)
    kind = str(e.get("type", "?")).removeprefix("agentfold.")
    raw = e.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    detail = ""
    if kind == "metric":
        detail = f"{data.get('name')}={data.get('value')}{data.get('unit', '')}"
    elif kind == "decision":
        detail = str(data.get("intent", ""))[:50]
    elif kind == "outcome":
        detail = "ok" if data.get("success") else f"FAILED {data.get('error') or ''}"
    elif kind == "healing_attempt":
        detail = f"{data.get('action_type')} #{data.get('attempt')} {data.get('outcome')}"
    elif kind in ("action_started", "step", "observation", "action_completed"):
        detail = str(data.get("action_id", ""))
    return (
        f"{clock(e.get('time'))}  {e.get('subject') or '-'}  {paint(kind, CYAN, on)}  "
        f"seq {e.get('seq', '-')}  {detail}"
    )


def format_record(
    logical: str, partition: int, offset: int, value: bytes, colour: bool = False
) -> list[str]:
    """Readable lines for one record (a telemetry batch gives one line per event)."""
    head = paint(f"{logical:<11} p{partition:<2} @{offset:<7}", DIM, colour)
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return [f"{head} {paint('(not JSON)', RED, colour)} {value[:80]!r}"]
    if logical == TELEMETRY:
        events = doc if isinstance(doc, list) else [doc]
        return [f"{head} {_event(e, colour)}" for e in events]
    if logical == GOAL_FACTS and isinstance(doc, list):  # one goal's facts of one fetch
        return [f"{head} {about(logical, d)}  {describe(logical, d, colour)}" for d in doc]
    if logical not in LINES or not isinstance(doc, dict):
        return [f"{head} {value[:160].decode('utf-8', errors='replace')}"]
    return [f"{head} {about(logical, doc)}  {describe(logical, doc, colour)}"]


def concerns_execution(logical: str, key: bytes | None, value: bytes, execution: str) -> bool:
    if key is not None and key.decode("utf-8", errors="replace") == execution:
        return True
    if logical in ("attribution",):
        try:
            return bool(orjson.loads(value).get("execution_id") == execution)
        except (orjson.JSONDecodeError, AttributeError):
            return False
    return False


def resolve_topic(name: str, prefix: str) -> tuple[str, str]:
    """(full topic name, logical name): `runs` → agentfold.runs; full names pass."""
    logical = name.rsplit(".", 1)[-1]
    full = name if "." in name else topic_name(prefix, name)
    if logical not in (*LIVE_OUTPUT_TOPICS, TELEMETRY):
        known = ", ".join((TELEMETRY, *LIVE_OUTPUT_TOPICS))
        raise InputError(f"unknown agentfold topic {name!r}; one of: {known}")
    return full, logical


async def tail(
    bootstrap: str,
    topic: str,
    logical: str,
    from_beginning: bool,
    execution: str | None,
    as_json: bool,
    to_end: bool,
    out: TextIO | None = None,
) -> int:
    out = out if out is not None else sys.stdout
    ends = await end_offsets(bootstrap, topic)
    if not ends:
        raise InputError(f"topic {topic} not found on {bootstrap} (check the name and --prefix)")
    colour = out.isatty() and not as_json
    consumer = clients.consumer(bootstrap)
    await clients.start(consumer, bootstrap)
    shown = 0
    try:
        tps = [TopicPartition(topic, p) for p in sorted(ends)]
        consumer.assign(tps)
        for tp in tps:
            if from_beginning:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, ends[tp.partition])
        todo = {tp for tp in tps if ends[tp.partition] > 0} if from_beginning else set()
        while True:
            if to_end and not todo:
                return shown
            batch = await consumer.getmany(timeout_ms=500, max_records=1000)
            for tp, msgs in sorted(batch.items(), key=lambda kv: kv[0].partition):
                for m in msgs:
                    value = m.value or b""
                    if to_end and m.offset >= ends[tp.partition]:
                        todo.discard(tp)
                        break
                    if execution is None or concerns_execution(logical, m.key, value, execution):
                        shown += 1
                        if as_json:
                            out.write(value.decode("utf-8", errors="replace") + "\n")
                        else:
                            for line in format_record(
                                logical, tp.partition, m.offset, value, colour
                            ):
                                out.write(line + "\n")
                    if m.offset >= ends[tp.partition] - 1:
                        todo.discard(tp)
            out.flush()
    finally:
        await clients.close(consumer)


def run_tail(*args: Any, **kwargs: Any) -> int:
    return asyncio.run(tail(*args, **kwargs))
