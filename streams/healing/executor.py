"""The healing executor: carries out planned actions and reports each attempt back into
the telemetry log, where the fold's healer sees it.

It consumes `<prefix>.healing` in a consumer group and runs only `planned` records,
through the handler registered for the record's `action_type` (`streams.healing.engine`;
an action type without a handler is reported `skipped_by_policy` with the reason), up
to `max_in_flight` attempts at once so that one slow action does not hold up the rest.

At most once per (idempotency_key, attempt), also across restarts, redeliveries and a
lost consumer group:
- before running a plan it records the start in its ledger, `<prefix>.executor` (kept
  as long as the plans), and commits the plan's offset; a crash mid-attempt loses that
  attempt rather than repeating it (the fold's ack timeout then plans it again as the
  next attempt, within max_attempts);
- at start it reads its own ledger records back (a topic bounded by retention, not the
  telemetry log) and never runs those attempts again; in memory it remembers the
  newest `remember` of them (a redelivered plan comes soon after the original);
- an attempt anybody reported is closed by a `reported` record the fold writes to the
  healing topic; reading behind, the executor holds plans until it has read to the
  partition's end and skips those closed meanwhile.
The report is a `healing_attempt` event keyed by the execution, with a derived id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pydantic import BaseModel, ConfigDict, Field

from schemas.canonical import canonical_json
from schemas.envelope import envelope
from schemas.outputs import EXECUTOR_LEDGER, HEALING, TELEMETRY
from schemas.timefmt import parse_rfc3339_ms
from streams.clock import SYSTEM_CLOCK
from streams.config import WebHost, WebPort
from streams.healing.engine import (
    DEFAULT_POLL_S,
    DEFAULT_TIMEOUT_S,
    ActionContext,
    AttemptResult,
    Handler,
    attempt_data,
    run_attempt,
)
from streams.healing.ledger import RecentAttempts, attempt_key, ledger_record, started_attempts
from streams.kafka import clients
from streams.kafka.topics import topic_name

log = logging.getLogger("agentfold.executor")
T = TypeVar("T")


class ExecutorSettings(BaseModel):
    """Settings of the executor; `agentfold executor` takes each as a flag."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    broker: str = Field(description="Kafka bootstrap HOST:PORT")
    topic_prefix: str = Field(default="agentfold", description="topic name prefix")
    group: str = Field(default="agentfold-executor", description="consumer group")
    source: str = Field(
        default="agentfold-executor",
        description="source of its reports and ledger records; attempts this source "
        "started (<prefix>.executor) are never run again",
    )
    timeout_s: float = Field(
        default=DEFAULT_TIMEOUT_S, gt=0, description="completion timeout of an attempt"
    )
    poll_s: float = Field(default=DEFAULT_POLL_S, gt=0, description="poll interval")
    session_timeout_s: float = Field(default=10.0, gt=0, description="consumer session timeout")
    heartbeat_interval_s: float = Field(
        default=1.0, gt=0, description="consumer heartbeat interval"
    )
    max_in_flight: int = Field(
        default=8, ge=1, description="attempts run at once: a slow action does not hold up others"
    )
    remember: int = Field(
        default=100_000,
        ge=1,
        description="started and reported attempts kept in memory to skip redelivered "
        "and already reported plans",
    )
    lookahead_plans: int = Field(
        default=1000,
        ge=1,
        description="plans held per partition while the executor reads behind the log's "
        "end, so that one reported further on is not run; past this many the oldest run",
    )
    web_port: WebPort = 9467
    web_host: WebHost = "0.0.0.0"


@dataclass
class ExecutorStats:
    planned: int = 0
    ran: int = 0
    already_done: int = 0  # started (its ledger) or reported before
    handed_back: int = 0  # read, not run: the partition moved before they were decided
    by_outcome: dict[str, int] = field(default_factory=dict)
    unreported: int = 0  # ran (or started) but the report could not be sent
    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (type, outcome)
    in_flight: int = 0
    joined: bool = False  # in its consumer group, taking plans

    @property
    def idle(self) -> bool:
        """Every planned action consumed so far is finished (or was done before)."""
        done = self.ran + self.already_done + self.unreported + self.handed_back
        return done >= self.planned


class Executor:
    def __init__(
        self,
        settings: ExecutorSettings,
        handlers: dict[str, Handler],
        time_fn: Callable[[], float] = SYSTEM_CLOCK.monotonic,
        sleep_fn: Callable[[float], None] = SYSTEM_CLOCK.sleep,
        clock_ms: Callable[[], int] = SYSTEM_CLOCK.now_ms,
        on_attempt: Callable[[dict[str, Any], AttemptResult], None] | None = None,
    ) -> None:
        self.s = settings
        self.handlers = handlers
        self.time_fn = time_fn
        self.sleep_fn = sleep_fn
        self.clock_ms = clock_ms
        self.on_attempt = on_attempt
        self.stats = ExecutorStats()
        self.done = RecentAttempts(settings.remember)
        self.reported = RecentAttempts(settings.remember)  # closed by a `reported` record
        # plans read but not yet run, per partition, while the executor reads behind
        self._waiting: dict[TopicPartition, list[tuple[int, dict[str, Any]]]] = {}
        self._running: set[asyncio.Future[None]] = set()
        self._slots = asyncio.Semaphore(max(1, settings.max_in_flight))

    def attempt(self, action: dict[str, Any]) -> AttemptResult:
        """Run one planned action through its handler (blocking: call it in a thread).
        A plan whose ack deadline passed before it is run is not acted on: it is
        reported skipped_by_policy (stale_plan) — the fold has given up waiting for it,
        and replaying an old log into a live executor must not fire old actions."""
        handler = self.handlers.get(str(action.get("action_type")))
        ctx = ActionContext(action)
        skip = None
        if stale(action, self.clock_ms()):
            skip = f"stale_plan: its ack deadline {action.get('ack_deadline')} has passed"
        elif handler is None:
            skip = f"no handler registered for action_type {action.get('action_type')!r}"
        if skip is not None or handler is None:
            return run_attempt(
                _NoHandler(), ctx, skip_reason=skip, time_fn=self.time_fn, sleep_fn=self.sleep_fn
            )
        return run_attempt(
            handler,
            ctx,
            timeout_s=self.s.timeout_s,
            poll_s=self.s.poll_s,
            time_fn=self.time_fn,
            sleep_fn=self.sleep_fn,
        )

    def report(self, action: dict[str, Any], result: AttemptResult) -> tuple[bytes, bytes]:
        """(key, value) of the healing_attempt event for this attempt."""
        key, attempt = attempt_key(action)
        event = envelope(
            "healing_attempt",
            id=f"attempt:{key}:{attempt}",
            source=self.s.source,
            time_ms=self.clock_ms(),
            subject=action["execution_id"],
            data=attempt_data(action, result),
        )
        return str(action["execution_id"]).encode(), canonical_json(event)

    async def run(self, stop: asyncio.Event) -> ExecutorStats:
        s = self.s
        self.done = await started_attempts(s.broker, s.topic_prefix, s.source, s.remember)
        consumer = clients.consumer(
            s.broker,
            topic_name(s.topic_prefix, HEALING),
            group_id=s.group,
            auto_offset_reset="earliest",
            session_timeout_ms=int(s.session_timeout_s * 1000),
            heartbeat_interval_ms=int(s.heartbeat_interval_s * 1000),
        )
        stopped = asyncio.ensure_future(stop.wait())
        try:
            # Joining the group can take as long as the broker holds the join (half a
            # session timeout, more while old members expire): a stop must not wait.
            started, _ = await _unless_stopped(clients.start(consumer, s.broker), stopped)
            if not started:
                await _leave(consumer)
                return self.stats
            self.stats.joined = True
            producer = clients.producer(s.broker)
            try:
                await clients.start(producer, s.broker)
            except clients.BrokerUnreachable:
                await clients.close(consumer)
                raise
            try:
                while True:
                    fetch = consumer.getmany(timeout_ms=200, max_records=100)
                    fetched, batch = await _unless_stopped(fetch, stopped)
                    if not fetched or batch is None:
                        break
                    for tp in [tp for tp in self._waiting if tp not in consumer.assignment()]:
                        self._forget(tp)
                    for tp, msgs in batch.items():
                        await self._take(consumer, producer, tp, msgs)
            finally:
                # Attempts under way finish and are reported: their plans are committed.
                await asyncio.gather(*self._running, return_exceptions=True)
                await _leave(consumer)
                await clients.close(producer)
        finally:
            stopped.cancel()
        return self.stats

    async def _take(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        tp: TopicPartition,
        msgs: list[Any],
    ) -> None:
        """One fetch of a healing partition. Plans wait until the executor has read the
        partition to its end (or `lookahead_plans` of them wait): a plan an executor
        reads behind may already be closed by a `reported` record further on — the
        fold writes one for every report it folds, whoever sent it — and a reported
        attempt is never run again. At the head of the log nothing waits."""
        waiting = self._waiting.setdefault(tp, [])
        if waiting and msgs[0].offset <= waiting[-1][0]:  # read again (the group moved it)
            self._forget(tp)
            waiting = self._waiting[tp]
        for m in msgs:
            try:
                record = orjson.loads(m.value or b"")
                status = record.get("status") if isinstance(record, dict) else None
            except orjson.JSONDecodeError:
                status = None
            if status == "reported":
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    self.reported.add(attempt_key(record))
            elif status == "planned":
                self.stats.planned += 1
                waiting.append((m.offset, record))
        highwater = consumer.highwater(tp)
        behind = highwater is not None and msgs[-1].offset + 1 < highwater
        if behind and waiting and len(waiting) < self.s.lookahead_plans:
            return  # nothing committed: a restart reads them again
        self._waiting[tp] = []
        for offset, action in waiting:
            await self._start(consumer, producer, tp, offset, action)
        await consumer.commit({tp: OffsetAndMetadata(msgs[-1].offset + 1, "")})

    def _forget(self, tp: TopicPartition) -> None:
        """Drop the plans waiting on a partition this executor no longer reads from
        there (revoked, or read again): whoever reads them next decides."""
        self.stats.handed_back += len(self._waiting.get(tp, ()))
        self._waiting[tp] = []

    async def _start(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        tp: TopicPartition,
        offset: int,
        action: dict[str, Any],
    ) -> None:
        """Run one plan unless its attempt was started or reported before."""
        try:
            key = attempt_key(action)
        except (KeyError, TypeError, ValueError):
            key = None
        if key is None or key in self.done or key in self.reported:
            self.stats.already_done += 1
            return
        # Back-pressure, at most max_in_flight at once — taken before the attempt counts
        # as started, so that a crash loses only attempts that were running.
        await self._slots.acquire()
        try:
            # In the ledger before acting: a crash from here on loses this attempt,
            # never repeats it — even if the plan comes again (same key and attempt).
            ledger_key, ledger_value = ledger_record(self.s.source, action, self.clock_ms())
            await producer.send_and_wait(
                topic_name(self.s.topic_prefix, EXECUTOR_LEDGER), ledger_value, key=ledger_key
            )
            await consumer.commit({tp: OffsetAndMetadata(offset + 1, "")})
        except BaseException:
            self._slots.release()
            raise
        self.done.add(key)
        task = asyncio.ensure_future(self._run_and_report(producer, action, key))
        self._running.add(task)
        self.stats.in_flight = len(self._running)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[None]) -> None:
        self._running.discard(task)
        self.stats.in_flight = len(self._running)
        self._slots.release()
        if task.cancelled() or task.exception() is not None:
            self.stats.unreported += 1  # the healer's ack timeout will plan it again
            if not task.cancelled():
                log.error("a healing attempt could not be reported: %r", task.exception())

    async def _run_and_report(
        self, producer: AIOKafkaProducer, action: dict[str, Any], key: tuple[str, int]
    ) -> None:
        result = await asyncio.to_thread(self.attempt, action)
        out_key, event = self.report(action, result)
        await producer.send_and_wait(topic_name(self.s.topic_prefix, TELEMETRY), event, key=out_key)
        self.stats.ran += 1
        outcome = result.outcome.value
        self.stats.by_outcome[outcome] = self.stats.by_outcome.get(outcome, 0) + 1
        self.stats.attempts[(str(action.get("action_type")), outcome)] += 1
        log.info(
            "%s %s attempt %s on %s: %s in %.1fs",
            action.get("action_type"),
            key[0][:14],
            key[1],
            action.get("execution_id"),
            outcome,
            result.elapsed_s,
        )
        if self.on_attempt is not None:
            self.on_attempt(action, result)


async def _unless_stopped(
    work: Awaitable[T], stopped: asyncio.Future[Any]
) -> tuple[bool, T | None]:
    """(True, `work`'s result) — or (False, None), `work` cancelled, once `stopped`
    completes first."""
    task = asyncio.ensure_future(work)
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        return True, task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return False, None


async def _leave(consumer: AIOKafkaConsumer) -> None:
    """Stop the consumer; leaving the group waits for a join in progress, so bounded."""
    if not await clients.close(consumer, clients.CLOSE_WAIT_S):
        log.warning("stopped without leaving the group cleanly (it notices on its own)")


def stale(action: dict[str, Any], now_ms: int) -> bool:
    """Whether the plan's ack deadline (RFC 3339) lies before `now_ms`."""
    deadline = action.get("ack_deadline")
    if not isinstance(deadline, str):
        return False
    try:
        return parse_rfc3339_ms(deadline) < now_ms
    except ValueError:
        return False


class _NoHandler:
    """Stands in for a missing handler: the engine skips before it would act."""

    def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        return {}

    def precheck(self, before: dict[str, Any]) -> bool:
        return False

    def send(self, ctx: ActionContext) -> None:
        raise AssertionError("never sent: skipped by policy")

    def is_complete(self, before: dict[str, Any], now: dict[str, Any]) -> bool:
        return False
