"""The agent SDK: record runs into `agentfold.telemetry` over aiokafka.

    from streams.sdk.recorder import Recorder

    with Recorder(agent_id="my-agent") as rec:             # broker: $AGENTFOLD_BROKER
        run = rec.start_run("grow-audience", "Amplify a post")
        d = run.decide("pick a channel", [{"id": "x"}, {"id": "y"}], "x", "x is cheaper")
        run.record_outcome(d, success=True, summary="posted")
        run.end_run(success=True)

`Recorder` is for synchronous agents (a background thread owns the event loop);
`AsyncRecorder` for asyncio ones. Both batch one execution's events into one message
(`streams.sdk.batcher`), never block or raise into the agent (unless `strict=True`), and
keep events in a bounded buffer while the broker is unreachable, retrying until it
is back; overflow is dropped and counted with a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

from schemas.canonical import encode_model_event
from schemas.events import Event
from schemas.outputs import TELEMETRY
from streams.clock import SYSTEM_CLOCK
from streams.kafka import clients
from streams.kafka.logs import quiet_retries
from streams.kafka.security import KafkaSecurity
from streams.kafka.topics import topic_name
from streams.sdk.batcher import Batcher, Message
from streams.sdk.run import RecorderError, Run

log = logging.getLogger("agentfold.sdk")


class _MissingTopic(Exception):
    """The telemetry topic is not on the broker (the message says what to run)."""


class _Core:
    """What both recorders share: runs → encoded events → batches → the producer."""

    def __init__(
        self,
        broker: str | None,
        agent_id: str,
        topic_prefix: str,
        strict: bool,
        linger_ms: float,
        max_batch_events: int,
        max_batch_bytes: int,
        max_buffered_events: int,
        retry_s: float,
        clock_ms: Callable[[], int],
        security: KafkaSecurity,
    ) -> None:
        broker = broker or os.environ.get("AGENTFOLD_BROKER")
        if not broker:
            raise RecorderError("no broker: pass broker='host:port' or set AGENTFOLD_BROKER")
        self.broker = broker
        self.security = security
        quiet_retries()  # the agent's log must not fill with the client's retries
        self.agent_id = agent_id
        self.topic = topic_name(topic_prefix, TELEMETRY)
        self.strict = strict
        self.retry_s = retry_s
        self.clock_ms = clock_ms
        self.batcher = Batcher(
            max_batch_events, max_batch_bytes, linger_ms / 1000, max_buffered_events
        )
        self._warned_drop = 0
        self._warned_topic = False
        self._producer: AIOKafkaProducer | None = None
        self.sent_messages = 0
        self.last_error: str | None = None

    def start_run(
        self,
        goal_id: str,
        goal_description: str = "",
        input_data: dict[str, Any] | None = None,
        execution_id: str | None = None,
    ) -> Run:
        run = Run(
            self.emit,
            self.agent_id,
            execution_id or f"exec_{uuid.uuid4().hex[:16]}",
            goal_id,
            self.strict,
            self.clock_ms,
        )
        run.start(goal_description, input_data)
        return run

    def emit(self, event: Event) -> bool:
        ok = self.batcher.add(event.subject or "", encode_model_event(event), time.monotonic())
        if not ok:
            dropped = self.batcher.dropped
            if dropped >= 2 * self._warned_drop or dropped == 1:  # 1, 2, 4, 8, … warnings
                self._warned_drop = dropped
                log.warning(
                    "agentfold: telemetry buffer full (%d events waiting for the broker at %s); "
                    "%d event(s) dropped so far",
                    self.batcher.buffered,
                    self.broker,
                    dropped,
                )
            if self.strict:
                raise RecorderError(
                    f"telemetry buffer full ({self.batcher.max_buffered} events): is the broker "
                    f"at {self.broker} reachable?"
                )
        return ok

    async def _connect(self, stop: asyncio.Event) -> AIOKafkaProducer | None:
        """A started producer, retrying every `retry_s` while the broker is down or the
        topic missing; None once `stop` is set between attempts."""
        while True:
            producer = clients.producer(
                self.broker, self.security, linger_ms=5, max_request_size=1 << 20
            )
            try:
                await producer.start()
                # Sending to a topic the broker does not have would create it with the
                # broker's defaults (partitions, retention) — the wrong topic, silently.
                # Nothing is sent until it exists.
                cluster = await producer.client.fetch_all_metadata()
                if self.topic not in cluster.topics():
                    raise _MissingTopic(
                        f"topic {self.topic} does not exist on {self.broker}: create it with "
                        f"`agentfold topics create --broker {self.broker}` (events wait)"
                    )
            except Exception as exc:  # broker down, topic missing: keep buffering, retry
                self.last_error = (
                    str(exc) if isinstance(exc, _MissingTopic) else f"{type(exc).__name__}: {exc}"
                )
                if isinstance(exc, _MissingTopic) and not self._warned_topic:
                    self._warned_topic = True
                    log.warning("agentfold: %s", exc)
                await clients.close(producer)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.retry_s)
                if stop.is_set():
                    return None
                continue
            except asyncio.CancelledError:  # abandoned while connecting: close what opened
                await clients.close(producer, clients.CLOSE_WAIT_S)
                raise
            self._producer = producer
            return producer

    async def _send(self, producer: AIOKafkaProducer, messages: list[Message]) -> None:
        """Hand every message to the producer at once (it keeps per-partition order and
        pipelines the requests), then wait for all acknowledgements; the failed ones go
        back to the buffer in order. A resend can repeat or reorder events of an
        execution; the fold de-duplicates by `seq`."""
        pending = []
        retry = False
        for i, message in enumerate(messages):
            try:
                pending.append(
                    await producer.send(self.topic, message.value, key=message.key.encode())
                )
            except Exception as exc:  # e.g. the buffer of the producer is full
                self.last_error = f"{type(exc).__name__}: {exc}"
                messages, rest = messages[:i], messages[i:]
                self.batcher.requeue(rest)
                retry = True
                break
        results = await asyncio.gather(*pending, return_exceptions=True)
        failed = []
        for message, result in zip(messages, results, strict=True):
            if isinstance(result, BaseException):
                self.last_error = f"{type(result).__name__}: {result}"
                failed.append(message)
            else:
                self.batcher.delivered(message)
                self.sent_messages += 1
        if failed:
            self.batcher.requeue(failed)  # before the unsent rest, as they came first
        if retry or failed:
            await asyncio.sleep(self.retry_s)

    async def run_sender(self, stop: asyncio.Event) -> None:
        """Deliver batches until `stop` is set and everything buffered is delivered."""
        producer = await self._connect_or_stop(stop)
        try:
            while True:
                stopping = stop.is_set()
                messages = self.batcher.take(time.monotonic(), everything=stopping)
                if messages and producer is not None:
                    await self._send(producer, messages)
                elif messages:
                    self.batcher.requeue(messages)
                if stopping and (self.batcher.empty or producer is None):
                    return
                if not messages:
                    await asyncio.sleep(self.batcher.linger_s / 2)
        finally:
            if producer is not None:
                await clients.close(producer)

    async def _connect_or_stop(self, stop: asyncio.Event) -> AIOKafkaProducer | None:
        connect = asyncio.ensure_future(self._connect(stop))
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({connect, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not connect.done():
                # Stopped while an attempt is under way: let it end (cancelling the Kafka
                # client in the middle of its start leaves its connections open), within
                # bounds — a broker that does not answer would hold it for a timeout.
                await asyncio.wait({connect}, timeout=clients.CLOSE_WAIT_S)
        finally:  # also when cancelled: neither may be left pending
            stopped.cancel()
            if not connect.done():
                connect.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await connect
        return connect.result() if not connect.cancelled() else None

    async def flush(self, timeout_s: float | None) -> bool:
        """Wait until everything recorded so far is delivered; False on timeout."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            self.batcher.close_all()
            if self.batcher.empty:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What became of the events recorded so far."""

    recorded: int  # accepted by the SDK
    delivered: int  # acknowledged by the broker
    dropped: int  # refused: the buffer was full while the broker was unreachable
    pending: int  # recorded, not delivered yet

    @property
    def complete(self) -> bool:
        return self.pending == 0 and self.dropped == 0


class _RecorderBase:
    """Settings and the run API both recorders share (defaults: docs/events.md's batching)."""

    def __init__(
        self,
        broker: str | None = None,
        *,
        agent_id: str = "agent",
        topic_prefix: str | None = None,
        strict: bool = False,
        linger_ms: float = 20.0,
        max_batch_events: int = 500,
        max_batch_bytes: int = 256 * 1024,
        max_buffered_events: int = 100_000,
        retry_s: float = 1.0,
        clock_ms: Callable[[], int] = SYSTEM_CLOCK.now_ms,
        security: KafkaSecurity | None = None,
    ) -> None:
        """`broker` defaults to $AGENTFOLD_BROKER, `topic_prefix` to
        $AGENTFOLD_TOPIC_PREFIX or "agentfold", `security` (SASL, TLS) to the
        AGENTFOLD_* security variables (docs/operations.md)."""
        prefix = topic_prefix or os.environ.get("AGENTFOLD_TOPIC_PREFIX", "agentfold")
        if security is None:
            from streams.config import load_kafka_security

            security = load_kafka_security(None, os.environ)
        self._core = _Core(
            broker,
            agent_id,
            prefix,
            strict,
            linger_ms,
            max_batch_events,
            max_batch_bytes,
            max_buffered_events,
            retry_s,
            clock_ms,
            security,
        )

    def start_run(
        self,
        goal_id: str,
        goal_description: str = "",
        input_data: dict[str, Any] | None = None,
        execution_id: str | None = None,
    ) -> Run:
        """Emit `run_started` and return the handle (execution id generated if None)."""
        return self._core.start_run(goal_id, goal_description, input_data, execution_id)

    def record(self, event: Event) -> bool:
        """Send one ready-made event (e.g. mapped from OpenTelemetry spans: streams.otel);
        False when it was dropped because the buffer was full."""
        return self._core.emit(event)

    @property
    def dropped(self) -> int:
        """Events dropped because the buffer was full while the broker was unreachable."""
        return self._core.batcher.dropped

    def delivery_report(self) -> DeliveryReport:
        b = self._core.batcher
        return DeliveryReport(b.recorded, b.delivered_events, b.dropped, b.buffered)

    def _report_loss(self) -> None:
        """At close: say once what was not delivered (strict: raise)."""
        report = self.delivery_report()
        if report.complete:
            return
        core = self._core
        error = f" (last error: {core.last_error})" if core.last_error else ""
        message = (
            f"agentfold: {report.pending} of {report.recorded} event(s) were not delivered "
            f"to {core.broker} and {report.dropped} were dropped{error}: is the broker "
            "reachable and the topic created (`agentfold topics create`)?"
        )
        if core.strict:
            raise RecorderError(message)
        log.warning("%s", message)


class AsyncRecorder(_RecorderBase):
    """The SDK for asyncio agents. Use `async with AsyncRecorder(...) as rec:`."""

    def __init__(self, broker: str | None = None, **settings: Any) -> None:
        super().__init__(broker, **settings)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> AsyncRecorder:
        self._task = asyncio.ensure_future(self._core.run_sender(self._stop))
        return self

    async def flush(self, timeout_s: float | None = 10.0) -> bool:
        return await self._core.flush(timeout_s)

    async def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is buffered (up to `timeout_s`), then stop; a warning (strict:
        RecorderError) says how many events were not delivered."""
        await self._core.flush(timeout_s)
        self._stop.set()
        if self._task is not None:
            await self._task
        self._report_loss()

    async def __aenter__(self) -> AsyncRecorder:
        return await self.start()

    async def __aexit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is asyncio.CancelledError or exc_type is KeyboardInterrupt:
            await self._abandon()  # the agent is being torn down: no delivery wait
            return
        await self.close()

    async def _abandon(self) -> None:
        """Stop the sender soon (its producer closed, nothing left pending), and say what
        was not delivered. It gets a moment to stop on its own first: a sender cancelled
        while its producer starts leaves the producer's connections open."""
        self._stop.set()
        task = self._task
        if task is not None:
            try:
                await asyncio.wait({task}, timeout=clients.CLOSE_WAIT_S)
            finally:  # also when cancelled again meanwhile
                if not task.done():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._report_loss()


class Recorder(_RecorderBase):
    """The SDK for synchronous agents: calls return at once; a daemon thread delivers."""

    def __init__(self, broker: str | None = None, **settings: Any) -> None:
        super().__init__(broker, **settings)
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="agentfold-recorder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._core.run_sender(self._stop))

    def flush(self, timeout_s: float | None = 10.0) -> bool:
        if not self._thread.is_alive():
            return self._core.batcher.empty
        future = asyncio.run_coroutine_threadsafe(self._core.flush(timeout_s), self._loop)
        return future.result()

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is buffered (up to `timeout_s`), then stop; a warning (strict:
        RecorderError) says how many events were not delivered."""
        if not self._thread.is_alive():
            return
        self.flush(timeout_s)
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=timeout_s + 5)
        self._report_loss()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
