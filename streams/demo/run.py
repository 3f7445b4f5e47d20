"""`agentfold demo`: the whole loop, live, in about a minute.

Starts the embedded broker (unless given one), creates the topics, starts the fold
worker (a subprocess, as in production) and a healing executor with the inbox handlers,
and drives the simulated fleet (streams.demo.fleet) through the SDK on compressed time.
It prints what happens as it happens, waits until every run has ended and its last
window closed, prints a summary, and then verifies that replaying the telemetry topic
offline gives exactly what the worker emitted live. Everything it started is stopped
on the way out, also on Ctrl-C and on errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import orjson
from aiokafka import TopicPartition

from processors.config import FoldConfig
from schemas.canonical import canonical_json
from schemas.envelope import envelope, goal_defined
from schemas.errors import AgentfoldError
from schemas.outputs import GOAL_FACTS, LIVE_OUTPUT_TOPICS, TELEMETRY
from schemas.outputs import GOALS as GOALS_TOPIC
from streams.demo.fleet import GOALS, PERSONAS, Persona, Timeline, now_ms
from streams.demo.inbox import Inbox, inbox_handlers
from streams.demo.view import DemoView
from streams.healing.executor import Executor, ExecutorSettings
from streams.kafka import clients
from streams.kafka.broker import EmbeddedBroker, _die_with_parent, free_port
from streams.kafka.topicio import produce_lines, wait_caught_up
from streams.kafka.topics import create_topics, topic_name
from streams.replay.rebuild import ReplayRequest, replay
from streams.replay.verify import VerifyReport, group_replay, render_report, verify
from streams.sdk.recorder import AsyncRecorder
from streams.views.render import GREEN, TERMINAL
from streams.worker.run import worker_argv


class DemoError(AgentfoldError):
    """The demo could not run (a part failed to start, or the loop did not finish)."""


@dataclass(frozen=True, slots=True)
class DemoSettings:
    broker: str | None = None  # None: start the embedded broker
    prefix: str | None = None  # None: "agentfold" embedded, a fresh one on a given broker
    partitions: int = 4
    window_s: int = 10
    executor_timeout_s: float = 2.0
    executor_poll_s: float = 0.25
    tick_interval_s: float = 0.5
    startup_timeout_s: float = 60.0
    finish_timeout_s: float = 45.0  # after the fleet ends: last windows, attempts, timers
    verify: bool = True


def demo_fold_config(window_s: int) -> FoldConfig:
    """The default settings on a clock compressed so that a window lasts `window_s`
    (90 min → 10 s is 540×), every duration at least 1 s; except that a plan waits at
    least 5 s for its attempt, a run times out after three quiet windows and an action
    after one, so that the demo shows those too."""
    d = FoldConfig()
    scale = window_s / d.window_s

    def squeeze(seconds: int) -> int:
        return max(1, round(seconds * scale))

    return FoldConfig(
        window_s=window_s,
        grace_s=1,
        cooldown_s={action: squeeze(s) for action, s in d.cooldown_s.items()},
        frequency_window_s=squeeze(d.frequency_window_s),
        ack_timeout_s=max(5, squeeze(d.ack_timeout_s)),
        retry_backoff_base_s=squeeze(d.retry_backoff_base_s),
        retry_backoff_max_s=squeeze(d.retry_backoff_max_s),
        run_inactivity_s=3 * window_s,
        action_ttl_s=window_s,
        closed_retention_s=squeeze(d.closed_retention_s),
    )


# Input a misconfigured producer might send: the worker dead-letters it and goes on.
BAD_TIME_MS = 1_795_341_600_000  # 2026-11-22T10:00:00Z


def _legacy(event_id: str, kind: str, data: dict[str, object]) -> bytes:
    return orjson.dumps(
        envelope(
            kind,
            id=event_id,
            source="legacy-agent",
            time_ms=BAD_TIME_MS,
            subject="exec-broken",
            data=data,
        )
    )


BAD_INPUT: tuple[tuple[bytes, bytes], ...] = (
    (b"exec-broken", b'{"type": "agentfold.metric", "data": {"name": '),  # cut short
    (b"exec-broken", _legacy("bad-1", "telepathy", {})),  # unknown type
    (b"exec-broken", _legacy("bad-2", "metric", {"name": "engagements", "value": "lots"})),
)


class StampClock:
    """The SDK's clock for one agent, remembering the last time it stamped an event."""

    def __init__(self) -> None:
        self.last_ms = 0

    def __call__(self) -> int:
        self.last_ms = now_ms()
        return self.last_ms


class WorkerProcess:
    """The fold worker as a subprocess (dies with us on Linux; stopped on the way out)."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.argv = argv
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # Fold settings come only from the demo's config file, not from the environment.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFOLD_")}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                preexec_fn=_die_with_parent if os.name == "posix" else None,
            )

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise DemoError(f"the worker exited with code {self.proc.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "(no worker log)"
        return "\n".join("    " + line for line in text)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


async def _watch_outputs(
    broker: str, prefix: str, partitions: int, view: DemoView, stop: asyncio.Event
) -> None:
    consumer = clients.consumer(broker, auto_offset_reset="earliest")
    await clients.start(consumer, broker)
    try:
        tps = [
            TopicPartition(topic_name(prefix, topic), p)
            for topic in LIVE_OUTPUT_TOPICS
            if topic != GOAL_FACTS  # the view shows the goal stage's records instead
            for p in range(partitions)
        ]
        consumer.assign(tps)
        for tp in tps:
            await consumer.seek_to_beginning(tp)
        cut = len(prefix) + 1
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            for tp, msgs in batch.items():
                for m in msgs:
                    with contextlib.suppress(orjson.JSONDecodeError):
                        view.on_record(tp.topic[cut:], orjson.loads(m.value or b"{}"))
    finally:
        await clients.close(consumer)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:  # not listening yet, or 503: not ready
        return False


async def _wait_for_worker(worker: WorkerProcess, web_port: int, timeout_s: float) -> None:
    """Ready when its readiness probe says so: it has joined the group and restored and
    sought every partition it owns."""
    deadline = time.monotonic() + timeout_s
    url = f"http://127.0.0.1:{web_port}/readyz"
    while True:
        worker.check()
        if await asyncio.to_thread(_ready, url):
            return
        if time.monotonic() > deadline:
            raise DemoError(f"the worker did not start within {timeout_s:.0f}s:\n{worker.tail()}")
        await asyncio.sleep(0.3)


async def _produce_bad_input(broker: str, prefix: str) -> None:
    producer = clients.producer(broker)
    await clients.start(producer, broker)
    try:
        for key, value in BAD_INPUT:
            await producer.send_and_wait(topic_name(prefix, TELEMETRY), value, key=key)
    finally:
        await clients.close(producer)


async def _agent(
    broker: str, prefix: str, persona: Persona, inbox: Inbox, tl: Timeline, clock: StampClock
) -> None:
    async with AsyncRecorder(
        broker, agent_id=persona.agent_id, topic_prefix=prefix, clock_ms=clock
    ) as recorder:
        inbox.connect(persona.execution_id)
        run = recorder.start_run(persona.goal_id, persona.goal, execution_id=persona.execution_id)
        await persona.act(run, inbox, tl)


def _missing(view: DemoView, clocks: dict[str, StampClock], window_ms: int) -> list[str]:
    """What the loop still owes: runs not ended, last windows not closed."""
    missing = []
    for ex, clock in clocks.items():
        s = view.executions.get(ex)
        last_window_end = (clock.last_ms // window_ms + 1) * window_ms
        if s is None or s.status not in TERMINAL:
            missing.append(f"{ex}: run not ended")
        elif s.last_window_end_ms < last_window_end:
            missing.append(f"{ex}: last window not closed")
    return missing


async def _wait_for_the_end(
    view: DemoView,
    executor: Executor,
    clocks: dict[str, StampClock],
    window_ms: int,
    worker: WorkerProcess,
    timeout_s: float,
) -> list[str]:
    """Until every run ended, its last window closed and the executor has nothing left
    — and that stays so for a moment (a retry may still be due). Returns what is
    missing at the timeout (empty: done)."""
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        worker.check()
        done = (
            not _missing(view, clocks, window_ms)
            and executor.stats.idle
            and executor.stats.planned >= view.planned_seen
        )
        if not done:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 1.5:
            return []
        await asyncio.sleep(0.2)
    return _missing(view, clocks, window_ms) or ["the executor is still busy"]


def _verify(broker: str, prefix: str, cfg: FoldConfig) -> tuple[VerifyReport, int, int]:
    """Replay the telemetry topic offline, wait until the worker has committed at least
    what was replayed, and compare with the live topics. (report, events, records)"""
    result = replay(ReplayRequest(broker, prefix, jobs=1), cfg)
    try:
        ends = {p: r.end for p, r in result.parts.items()}
        asyncio.run(
            wait_caught_up(
                broker, prefix, topic_name(prefix, TELEMETRY), 30, settle_s=1, targets=ends
            )
        )
        replayed = group_replay(result.records(), result.partitions)
        # The goal stage reads the goal facts after the fold wrote them: it may trail
        # the telemetry's committed offsets by a fetch or two.
        deadline = time.monotonic() + 10
        while True:
            report = verify(
                broker, prefix, replayed, partitions=sorted(result.parts), input_ends=ends
            )
            trailing = all(d.topic == GOALS_TOPIC for d in report.differences)
            if report.ok or not trailing or time.monotonic() > deadline:
                return report, result.events, result.outputs
            time.sleep(0.5)
    finally:
        shutil.rmtree(result.workdir, ignore_errors=True)


async def _run(
    s: DemoSettings, broker: str, prefix: str, out: TextIO, colour: bool, workdir: Path
) -> int:
    cfg = demo_fold_config(s.window_s)
    view = DemoView(out, colour)
    config_file = workdir / "fold.json"
    config_file.write_text(json.dumps(cfg.model_dump(mode="json"), sort_keys=True))

    created = await create_topics(broker, prefix, s.partitions)
    view.phase(f"topics {prefix}.* ({len(created)} created, {s.partitions} partitions)")
    goals = [canonical_json(goal_defined(dict(g), now_ms())) for g in GOALS]
    await produce_lines(broker, topic_name(prefix, TELEMETRY), goals, s.partitions)
    view.phase(f"goals defined: {', '.join(str(g['goal_id']) for g in GOALS)}")
    web_port = free_port()  # its readiness probe says when it is up
    worker = WorkerProcess(
        [
            *worker_argv(
                broker,
                prefix,
                s.partitions,
                tick_interval_s=s.tick_interval_s,
                log_level="warning",
                embedded=s.broker is None,
                config=config_file,
                web_port=web_port,
            ),
            *("--web-host", "127.0.0.1"),
        ],
        workdir / "worker.log",
    )
    stop = asyncio.Event()
    tasks: list[asyncio.Task[object]] = []
    inbox = Inbox()
    short = s.broker is None  # the embedded broker's short group timeouts
    executor = Executor(
        ExecutorSettings(
            broker=broker,
            topic_prefix=prefix,
            group=f"{prefix}-executor",
            source="agentfold-demo-executor",
            timeout_s=s.executor_timeout_s,
            poll_s=s.executor_poll_s,
            session_timeout_s=2.0 if short else 10.0,
            heartbeat_interval_s=0.3 if short else 1.0,
        ),
        inbox_handlers(inbox),
        on_attempt=view.on_attempt,
    )
    try:
        worker.start()
        view.phase("worker starting")
        await _wait_for_worker(worker, web_port, s.startup_timeout_s)
        tasks.append(
            asyncio.ensure_future(_watch_outputs(broker, prefix, s.partitions, view, stop))
        )
        tasks.append(asyncio.ensure_future(executor.run(stop)))
        tl = Timeline.plan(now_ms(), s.window_s * 1000)
        view.phase(
            f"worker and executor running; {len(PERSONAS)} agents publish until "
            f"{time.strftime('%H:%M:%S', time.gmtime(tl.end_ms / 1000))} UTC "
            f"({s.window_s}s windows, the default timings compressed {5400 // s.window_s}×)"
        )
        for p in PERSONAS:
            view.say("agent", p.execution_id, p.story)
        clocks = {p.execution_id: StampClock() for p in PERSONAS}
        fleet = [
            asyncio.ensure_future(_agent(broker, prefix, p, inbox, tl, clocks[p.execution_id]))
            for p in PERSONAS
        ]
        tasks.extend(fleet)  # stopped with the rest on the way out, however it ends
        await _produce_bad_input(broker, prefix)
        await asyncio.gather(*fleet)
        view.phase("agents done; waiting for the last windows to close and attempts to finish")
        missing = await _wait_for_the_end(
            view, executor, clocks, s.window_s * 1000, worker, s.finish_timeout_s
        )
        stop.set()
        await asyncio.gather(*tasks)
        out.write("\n")
        view.table({p.execution_id: p.story for p in PERSONAS})
        if missing:
            view.phase("the loop did not finish in time: " + "; ".join(missing))
            return 1
        if not s.verify:
            return 0
        view.phase(f"replaying {prefix}.telemetry offline and comparing with the live topics")
        report, events, records = await asyncio.to_thread(_verify, broker, prefix, cfg)
        if not report.ok:
            out.write(render_report(report, prefix) + "\n")
            return 1
        mark = view.c("✓", GREEN)
        out.write(
            f"{mark} offline fold of {events} events = the {records} records emitted live "
            f"({report.duplicates} redelivered duplicates)\n"
        )
        return 0
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*tasks, return_exceptions=True)
        worker.stop()


def run_demo(s: DemoSettings, out: TextIO, colour: bool) -> int:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="agentfold-demo-"))
    embedded: EmbeddedBroker | None = None
    try:
        if s.broker is None:
            embedded = EmbeddedBroker()
            broker = embedded.start()
            prefix = s.prefix or "agentfold"
            out.write(f"▶ embedded broker on {broker} (in memory)\n")
        else:
            broker = s.broker
            prefix = s.prefix or f"agentfold-demo-{int(time.time())}"
        code = asyncio.run(_run(s, broker, prefix, out, colour, workdir))
        out.write(f"demo finished in {time.monotonic() - started:.0f}s\n")
        return code
    finally:
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(workdir, ignore_errors=True)
