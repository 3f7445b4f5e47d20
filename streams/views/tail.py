"""`agentfold tail TOPIC`: any agentfold topic, one readable line per record.

Follows the topic like `tail -f` until Ctrl-C (or, with `to_end`, stops at the end
offsets taken at the start). Colour only on a terminal; `--json` prints the raw values.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any, TextIO

import orjson
from aiokafka import TopicPartition

from schemas.errors import InputError
from schemas.outputs import OUTPUT_TOPICS, TELEMETRY
from streams.kafka import clients
from streams.kafka.topicio import end_offsets
from streams.kafka.topics import topic_name

RESET, DIM, RED, GREEN, YELLOW, CYAN = (
    "\033[0m",
    "\033[2m",
    "\033[31m",
    "\033[32m",
    "\033[33m",
    "\033[36m",
)
_STATUS_COLOUR = {
    "completed": GREEN,
    "success": GREEN,
    "planned": YELLOW,
    "running": CYAN,
    "failed": RED,
    "stuck": RED,
    "timed_out": RED,
    "suppressed": DIM,
}


def _c(text: str, colour: str, on: bool) -> str:
    return f"{colour}{text}{RESET}" if on and colour else text


def _t(ts: Any) -> str:
    return str(ts)[11:19] if isinstance(ts, str) else "--:--:--"


def _runs(v: dict[str, Any], on: bool) -> str:
    m = v.get("metrics", {})
    status = v.get("status", "?")
    return (
        f"{v.get('execution_id')}  {_c(status, _STATUS_COLOUR.get(status, ''), on)}  "
        f"decisions {m.get('total_decisions', 0)} (ok {m.get('successful_decisions', 0)}, "
        f"failed {m.get('failed_decisions', 0)})  problems {v.get('problem_count', 0)}  "
        f"{v.get('duration_ms', 0) / 1000:.0f}s  {str(v.get('narrative', ''))[:60]}"
    )


def _stagnation(v: dict[str, Any], on: bool) -> str:
    score = float(v.get("score", 0))
    colour = RED if score >= 0.7 else YELLOW if score >= 0.3 else GREEN
    return (
        f"{v.get('execution_id')}  {_t(v.get('window_start'))}–{_t(v.get('window_end'))}  "
        f"score {_c(f'{score:.2f}', colour, on)} {v.get('signal')}  "
        f"samples {v.get('sample_count')}  late {v.get('late_events')}"
    )


def _healing(v: dict[str, Any], on: bool) -> str:
    status = str(v.get("status", "?"))
    return (
        f"{v.get('execution_id')}  {_c(status.upper(), _STATUS_COLOUR.get(status, ''), on)} "
        f"{v.get('action_type')} {v.get('tier')}  score {float(v.get('stagnation_score', 0)):.2f}"
        f"  attempt {v.get('attempt')}  ({v.get('reason')})  {v.get('idempotency_key')}"
    )


def _attribution(v: dict[str, Any], on: bool) -> str:
    return (
        f"{v.get('execution_id')}  {v.get('action_id')} {v.get('action_type')}  "
        f"{v.get('closed_by')}  steps {v.get('step_count')}  "
        f"observations {v.get('observation_count')}  success {float(v.get('success_score', 0)):.2f}"
    )


def _deadletter(v: dict[str, Any], on: bool) -> str:
    o = v.get("origin") or {}
    where = f"{o.get('topic')}/{o.get('partition')}/{o.get('offset')}"
    return f"key {v.get('key')}  {_c(str(v.get('reason')), RED, on)} at {where}: {v.get('error')}"


def _event(e: Any, on: bool) -> str:
    if not isinstance(e, dict):
        return _c("(not an event object)", RED, on)
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
        f"{_t(e.get('time'))}  {e.get('subject') or '-'}  {_c(kind, CYAN, on)}  "
        f"seq {e.get('seq', '-')}  {detail}"
    )


FORMATTERS: dict[str, Callable[[dict[str, Any], bool], str]] = {
    "runs": _runs,
    "stagnation": _stagnation,
    "healing": _healing,
    "attribution": _attribution,
    "deadletter": _deadletter,
}


def format_record(
    logical: str, partition: int, offset: int, value: bytes, colour: bool = False
) -> list[str]:
    """Readable lines for one record (a telemetry batch gives one line per event)."""
    head = _c(f"{logical:<11} p{partition:<2} @{offset:<7}", DIM, colour)
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return [f"{head} {_c('(not JSON)', RED, colour)} {value[:80]!r}"]
    if logical == TELEMETRY:
        events = doc if isinstance(doc, list) else [doc]
        return [f"{head} {_event(e, colour)}" for e in events]
    fmt = FORMATTERS.get(logical)
    if fmt is None or not isinstance(doc, dict):
        return [f"{head} {value[:160].decode('utf-8', errors='replace')}"]
    return [f"{head} {fmt(doc, colour)}"]


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
    if logical not in (*OUTPUT_TOPICS, TELEMETRY):
        known = ", ".join((TELEMETRY, *OUTPUT_TOPICS))
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
    await consumer.start()
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
        await consumer.stop()


def run_tail(*args: Any, **kwargs: Any) -> int:
    try:
        return asyncio.run(tail(*args, **kwargs))
    except KeyboardInterrupt:
        return 0
