"""`agentfold replay` as one call: rebuild, then write the records (file, stdout,
shadow topics), print the summary and, with `verify`, the comparison with live."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from processors.config import FoldConfig
from schemas.errors import InputError
from schemas.timefmt import format_ms
from streams.replay.rebuild import ReplayRequest, ReplayResult, replay
from streams.replay.shadow import check_shadow_prefix, publish_shadow
from streams.replay.verify import group_replay, render_report, verify
from streams.views.progress import Progress


@dataclass(frozen=True, slots=True)
class ReplayCommand:
    request: ReplayRequest
    out: str | None = None  # a file, "-" for stdout, None: stdout unless shadow/verify
    to_prefix: str | None = None
    verify: bool = False
    quiet: bool = False


def run_replay(
    cmd: ReplayCommand,
    cfg: FoldConfig,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """The exit status: 0, or 1 when `verify` found a difference. Records go to
    `stdout`'s binary buffer when they go to stdout; messages to `stderr`."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    req = cmd.request
    if req.until_ms is not None and cmd.verify:
        raise InputError(
            "--verify compares the whole log with the live topics; it cannot be combined "
            "with --until (live topics hold the present, not a past state)"
        )
    if req.jobs is not None and req.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {req.jobs}")
    if cmd.to_prefix is not None:
        asyncio.run(check_shadow_prefix(req.bootstrap, req.prefix, cmd.to_prefix))
    out_name = cmd.out if cmd.out is not None else (None if cmd.verify or cmd.to_prefix else "-")
    progress = None if cmd.quiet else Progress("replay", 0, unit="events", stream=err)
    with replay(req, cfg, progress=progress) as result:
        _write(result, out_name, out)
        if not cmd.quiet:
            print(summary(result), file=err)
        if cmd.to_prefix is not None:
            counts = asyncio.run(
                publish_shadow(
                    req.bootstrap, req.prefix, cmd.to_prefix, result.partitions, result.records()
                )
            )
            if not cmd.quiet:
                listing = ", ".join(f"{t} {n}" for t, n in sorted(counts.items())) or "none"
                print(
                    f"wrote {sum(counts.values()):,} records to {cmd.to_prefix}.* ({listing})",
                    file=err,
                )
        if not cmd.verify:
            return 0
        report = verify(
            req.bootstrap,
            req.prefix,
            group_replay(result.records(), result.partitions if req.execution is None else None),
            partitions=sorted(result.parts),
            execution=req.execution,
            input_ends={p: r.end for p, r in result.parts.items()},
        )
        print(render_report(report, req.prefix), file=err if out_name == "-" else out)
        return 0 if report.ok else 1


def _write(result: ReplayResult, out_name: str | None, out: TextIO) -> None:
    if out_name == "-":
        out.flush()
        sink: BinaryIO = out.buffer
        for line in result.lines():
            sink.write(line)
        sink.flush()
    elif out_name is not None:
        try:
            with open(out_name, "wb") as f:
                for line in result.lines():
                    f.write(line)
        except OSError as exc:
            raise InputError(f"cannot write {out_name}: {exc.strerror}") from None


def summary(result: ReplayResult) -> str:
    """The one line a replay prints when it is done."""
    req = result.request
    rate = result.events / result.elapsed_s if result.elapsed_s > 0 else 0.0
    topics = ", ".join(f"{t} {n}" for t, n in sorted(result.by_topic().items()))
    scope = f"execution {req.execution}, " if req.execution else ""
    until = ""
    if req.until_ms is not None:
        cut = sum(1 for r in result.parts.values() if r.cut)
        until = f", cut at {format_ms(req.until_ms)} in {cut} partition(s)"
    return (
        f"agentfold replay: {scope}{len(result.parts)} of {result.partitions} "
        f"partition(s), {result.messages:,} messages, {result.events:,} events, "
        f"{result.rejected} rejected → {result.outputs:,} records ({topics or 'none'})"
        f"{until} in {result.elapsed_s:.2f}s ({rate:,.0f} events/s, {result.jobs} job(s), "
        f"fold {result.fold})"
    )
