"""Rebuild the outputs from the telemetry log — what `agentfold replay` runs.

Every partition of <prefix>.telemetry is read from its beginning to the end offset
taken at the start and folded by `LivePartition`, the very code the worker runs per
message, with the same settings. Live == replay therefore holds by construction
(docs/design.md); the tests check it against a worker that crashed and restarted.

Partitions are independent, so with `jobs > 1` they are folded in separate processes.
Each partition's outputs go to a part file and the parts are joined in partition order:
the result is byte-identical run after run, whatever the number of jobs.

Two narrower rebuilds, each defined as a cut of the full one:
- one execution: only its partition is read (the whole partition: its windows close
  on the partition's stream time), and only records about the execution are kept —
  the full replay filtered to the execution;
- `until_ms`: each partition is folded up to its first event stamped after that time
  (in a batch, the events before it and the batch's rejected parts are kept) — the
  fold of the log cut at that time, i.e. the state as of that event time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import queue
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from processors.config import FoldConfig
from schemas.errors import AgentfoldError, InputError
from schemas.outputs import DEADLETTER, TELEMETRY, OutputRecord
from schemas.records import Event
from streams.folding.offline import Emitted, render
from streams.folding.partition import LivePartition
from streams.kafka import clients
from streams.kafka.partitioner import partition_for
from streams.kafka.topicio import end_offsets, iter_range
from streams.kafka.topics import topic_name
from streams.native import is_native
from streams.native import status as native_status
from streams.native.spawn import spawned
from streams.views.progress import Progress

# Below this many input messages one process is faster than starting more.
PARALLEL_MIN_MESSAGES = 20_000


class ReplayError(AgentfoldError):
    """A replay job failed; the message says which partition and why."""


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    bootstrap: str
    prefix: str = "agentfold"
    execution: str | None = None
    until_ms: int | None = None
    jobs: int | None = None  # None: one per CPU when the log is large enough

    @property
    def topic(self) -> str:
        return topic_name(self.prefix, TELEMETRY)


@dataclass(slots=True)
class PartitionResult:
    partition: int
    end: int
    messages: int = 0
    events: int = 0
    rejected: int = 0
    outputs: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)
    cut: bool = False


@dataclass(slots=True)
class ReplayResult:
    """Where the outputs are (one part file per partition) and what it took. Use it in
    a `with` block (or call `close()`): its part files are removed at the end."""

    request: ReplayRequest
    partitions: int  # of the telemetry topic
    parts: dict[int, PartitionResult]
    workdir: Path
    elapsed_s: float
    jobs: int
    fold: str = ""  # how the fold ran: native, or pure Python and why (every job alike)

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ReplayResult:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def part_path(self, partition: int) -> Path:
        return self.workdir / f"part-{partition:05d}.jsonl"

    def lines(self) -> Iterator[bytes]:
        """Every output line (`agentfold fold`'s format), partition by partition."""
        for p in sorted(self.parts):
            with open(self.part_path(p), "rb") as f:
                yield from f

    def records(self) -> Iterator[tuple[int, OutputRecord]]:
        """(partition, record) with the logical topic name, in output order."""
        cut = len(self.request.prefix) + 1
        for line in self.lines():
            d = orjson.loads(line)
            yield d["partition"], OutputRecord(d["topic"][cut:], d["key"], d["value"])

    @property
    def messages(self) -> int:
        return sum(r.messages for r in self.parts.values())

    @property
    def events(self) -> int:
        return sum(r.events for r in self.parts.values())

    @property
    def rejected(self) -> int:
        return sum(r.rejected for r in self.parts.values())

    @property
    def outputs(self) -> int:
        return sum(r.outputs for r in self.parts.values())

    def by_topic(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for r in self.parts.values():
            for t, n in r.by_topic.items():
                total[t] = total.get(t, 0) + n
        return total


def concerns(record: OutputRecord, execution: str) -> bool:
    """Is this output about `execution`? (dead letters: by the original message key)."""
    if record.topic == DEADLETTER:
        return record.key == execution
    return bool(record.value.get("execution_id") == execution)


ProgressFn = Callable[[int, int, int], None]  # (partition, next offset, events)


async def fold_partition(
    reader: AIOKafkaConsumer,
    request: ReplayRequest,
    cfg: FoldConfig,
    partition: int,
    end: int,
    sink: Any,
    progress: ProgressFn,
    on_event: Callable[[Event], None] | None = None,
) -> PartitionResult:
    """Fold one partition [log start, end) and write its output lines to `sink`."""
    live = LivePartition(
        cfg, partition, state_writes=False, until_ms=request.until_ms, on_event=on_event
    )
    result = PartitionResult(partition, end)
    by_topic = result.by_topic
    execution = request.execution
    topic, prefix = request.topic, request.prefix
    async for records in iter_range(reader, topic, partition, None, end):
        m = live.process_fetch(records, topic)
        result.messages += m.messages
        result.events += m.events
        result.rejected += sum(m.rejected.values())
        for record in m.outputs:
            if execution is not None and not concerns(record, execution):
                continue
            result.outputs += 1
            by_topic[record.topic] = by_topic.get(record.topic, 0) + 1
            sink.write(render(Emitted(partition, record), prefix))
            sink.write(b"\n")
        progress(partition, records[-1].offset + 1, result.events)
        if live.cut:
            result.cut = True
            break
    return result


async def _fold_partitions(
    request: ReplayRequest,
    cfg: FoldConfig,
    work: list[tuple[int, int]],
    workdir: Path,
    progress: ProgressFn,
    on_event: Callable[[Event], None] | None = None,
) -> list[PartitionResult]:
    # fetch_max_wait_ms: it reads ranges that exist, one partition after another; a fetch
    # long-polling at the end of one would hold up the next (≈0.5 s each).
    reader = clients.consumer(
        request.bootstrap,
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=64 << 20,
        fetch_max_wait_ms=20,
    )
    await clients.start(reader, request.bootstrap)
    try:
        results = []
        for partition, end in work:
            path = workdir / f"part-{partition:05d}.jsonl"
            with open(path, "wb", buffering=1 << 20) as sink:
                results.append(
                    await fold_partition(
                        reader, request, cfg, partition, end, sink, progress, on_event
                    )
                )
        return results
    finally:
        await clients.close(reader)


def job_main(
    request_fields: dict[str, Any],
    cfg: FoldConfig,
    work: list[tuple[int, int]],
    workdir: str,
    slots: dict[int, int],
    shared: Any,
    results: Any,
) -> None:
    """One replay process (spawned through `streams.native.spawn`, so that it runs the
    fold its parent runs): folds its partitions, reports progress in shared memory."""
    request = ReplayRequest(**request_fields)

    def progress(partition: int, offset: int, events: int) -> None:
        i = slots[partition]
        shared[2 * i] = offset
        shared[2 * i + 1] = events

    try:
        done = asyncio.run(_fold_partitions(request, cfg, work, Path(workdir), progress))
        results.put(("ok", (done, native_status())))
    except BaseException as exc:  # reported to the parent, which raises ReplayError
        results.put(("error", f"partitions {[p for p, _ in work]}: {type(exc).__name__}: {exc}"))


def _split(work: list[tuple[int, int]], jobs: int) -> list[list[tuple[int, int]]]:
    """Balance partitions over jobs by size (largest first to the least loaded job)."""
    loads = [0] * jobs
    groups: list[list[tuple[int, int]]] = [[] for _ in range(jobs)]
    for p, end in sorted(work, key=lambda w: (-w[1], w[0])):
        i = loads.index(min(loads))
        groups[i].append((p, end))
        loads[i] += end
    return [sorted(g) for g in groups if g]


def plan(request: ReplayRequest, ends: dict[int, int]) -> list[tuple[int, int]]:
    """The (partition, end offset) pairs to read."""
    if not ends:
        raise InputError(
            f"topic {request.topic} not found on {request.bootstrap} "
            "(is the topic prefix right? --prefix)"
        )
    if request.execution is not None:
        p = partition_for(request.execution, len(ends))
        return [(p, ends[p])]
    return sorted(ends.items())


def replay(
    request: ReplayRequest,
    cfg: FoldConfig,
    workdir: Path | None = None,
    progress: Progress | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> ReplayResult:
    """Rebuild the outputs; they are left in part files under `workdir` (a fresh
    temporary directory when None — the caller owns it and removes it)."""
    ends = asyncio.run(end_offsets(request.bootstrap, request.topic))
    work = plan(request, ends)
    total = sum(end for _, end in work)
    if progress is not None:
        progress.total = total  # messages (offsets) to read
    jobs = request.jobs
    if jobs is None:
        jobs = 1 if total < PARALLEL_MIN_MESSAGES else (os.cpu_count() or 1)
    jobs = max(1, min(jobs, len(work)))
    if on_event is not None:
        jobs = 1  # the hook lives in this process
    out_dir = workdir or Path(tempfile.mkdtemp(prefix="agentfold-replay-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if jobs == 1:
        offsets: dict[int, tuple[int, int]] = {}

        def local(partition: int, offset: int, events: int) -> None:
            offsets[partition] = (offset, events)
            if progress is not None:
                progress.update(
                    sum(o for o, _ in offsets.values()), sum(e for _, e in offsets.values())
                )

        parts = asyncio.run(_fold_partitions(request, cfg, work, out_dir, local, on_event))
        fold = native_status()
    else:
        parts, folds = _run_jobs(request, cfg, work, jobs, out_dir, progress)
        fold = " / ".join(sorted(folds))
    if progress is not None:
        progress.close()
    return ReplayResult(
        request=request,
        partitions=len(ends),
        parts={r.partition: r for r in parts},
        workdir=out_dir,
        elapsed_s=time.monotonic() - started,
        jobs=jobs,
        fold=fold,
    )


def _run_jobs(
    request: ReplayRequest,
    cfg: FoldConfig,
    work: list[tuple[int, int]],
    jobs: int,
    out_dir: Path,
    progress: Progress | None,
) -> tuple[list[PartitionResult], set[str]]:
    # spawn, not fork: the parent has run event loops and holds sockets. The request
    # travels as plain fields: unpickling it must not import the fold before `spawned`
    # has activated the compiled one.
    ctx = multiprocessing.get_context("spawn")
    fields = dataclasses.asdict(request)
    target = f"{__name__}:job_main"
    slots = {p: i for i, (p, _) in enumerate(work)}
    shared = ctx.Array("q", 2 * len(work), lock=False)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=spawned,
            args=(is_native(), target, fields, cfg, group, str(out_dir), slots, shared, results),
            daemon=True,
        )
        for group in _split(work, jobs)
    ]
    # Started with SIGINT blocked (the mask is inherited): a Ctrl-C while a job still
    # imports would print its traceback; `spawned` ignores SIGINT, then unblocks it.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        for proc in procs:
            proc.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    parts: list[PartitionResult] = []
    folds: set[str] = set()
    errors: list[str] = []
    pending = len(procs)
    try:
        while pending:
            try:
                status, payload = results.get(timeout=0.2)
            except queue.Empty:  # nothing finished yet
                if progress is not None:
                    progress.update(sum(shared[0::2]), sum(shared[1::2]))
                if not any(proc.is_alive() for proc in procs) and results.empty():
                    errors.append("a replay process died without reporting (killed?)")
                    break
                continue
            pending -= 1
            if status == "ok":
                done, fold = payload
                parts.extend(done)
                folds.add(fold)
            else:
                errors.append(payload)
    except BaseException:  # interrupted: the jobs' work is of no use any more
        for proc in procs:
            proc.kill()
        raise
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    if errors:
        raise ReplayError("replay failed: " + "; ".join(errors))
    return parts, folds
