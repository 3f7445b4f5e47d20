"""The exception net, live: a fault injected into the worker's fold for some marked
events. The worker never crashes or restarts, each marked event is dead-lettered as
fold_error, every output equals the offline fold (with the same fault), which is the
fold of the log without those events, and `replay --verify` passes."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import orjson
import pytest

from streams.cli import main
from streams.kafka.topics import create_topics
from streams.testing import batched, generate
from tests.streams import faults
from tests.streams.livelog import (
    PARTITIONS,
    Worker,
    dead_letter_reasons,
    explain,
    live,
    namespace,
    offline,
    produce_keyed,
)


def _marked_log() -> tuple[list[bytes], list[bytes], int]:
    lines, clean, marked = [], [], 0
    for line in generate(3_000, 40, seed=17):
        ev = orjson.loads(line)
        if ev["type"] == "agentfold.decision" and (marked + 1) * 500 < len(lines):
            ev["id"] = faults.MARK + ev["id"]
            lines.append(orjson.dumps(ev))
            marked += 1
            continue
        lines.append(line)
        clean.append(line)
    return lines, clean, marked


@pytest.mark.broker
def test_a_raising_fold_is_dead_lettered_live_and_on_replay(broker: str, tmp_path: Path) -> None:
    ns = namespace()
    lines, clean, marked = _marked_log()
    assert marked == 5
    messages = batched(lines, 10)

    asyncio.run(create_topics(broker, ns, PARTITIONS))
    keyed = [(orjson.loads(m)[0]["subject"].encode(), m) for m in messages]
    produce_keyed(broker, f"{ns}.telemetry", keyed)
    worker = Worker(broker, ns, tmp_path / "worker.log")
    worker.cmd = faults.worker_argv(worker.cmd)
    worker.start()
    worker.finish(timeout_s=180)
    log = (tmp_path / "worker.log").read_text()
    assert "Crashed" not in log and "Traceback" not in log, log[-3000:]
    assert log.count("dead-lettered as fold_error") == marked, log[-3000:]

    assert dead_letter_reasons(broker, ns) == Counter({"fold_error": marked})
    got, _ = live(broker, ns)
    with faults.injected():
        want = offline(messages)
        assert main(["replay", "--broker", broker, "--prefix", ns, "--verify", "-q"]) == 0
    assert got == want, explain(got, want)
    # ... which is the fold of the log without the marked events.
    without = [
        orjson.dumps(kept)
        for m in messages
        if (kept := [e for e in orjson.loads(m) if not e["id"].startswith(faults.MARK)])
    ]
    assert want == offline(without)
    assert len(clean) == len(lines) - marked
