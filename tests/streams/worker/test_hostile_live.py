"""10,000 hostile messages through the live worker, interleaved with a healthy fleet:
the worker never restarts, every hostile message is dead-lettered with the reason it
deserves or folded, the healthy executions' outputs are exactly what the healthy fleet
folds to alone (no collateral damage), and `replay --verify` passes."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import orjson
import pytest

from streams.cli import main
from streams.kafka.topics import create_topics
from streams.testing import HOSTILE_PREFIX, batched, generate, hostile
from tests.streams.livelog import (
    PARTITIONS,
    Outputs,
    Worker,
    dead_letter_reasons,
    explain,
    live,
    namespace,
    offline,
    produce_keyed,
)

N_HOSTILE = 10_000


def healthy_only(outputs: Outputs) -> Outputs:
    out: Outputs = {}
    for slot, records in outputs.items():
        kept = [
            r for r in records
            if not str(orjson.loads(r).get("execution_id", "")).startswith(HOSTILE_PREFIX)
        ]  # fmt: skip
        if kept:
            out[slot] = kept
    return out


@pytest.mark.broker
def test_hostile_input_harms_no_one_and_nothing_is_lost(broker: str, tmp_path: Path) -> None:
    ns = namespace()
    topic = f"{ns}.telemetry"
    healthy = batched(generate(4_000, 40, seed=3), 20)
    trouble = hostile(N_HOSTILE, seed=29)
    rng = random.Random(5)
    order: list[tuple[bytes | None, bytes]] = [
        (orjson.loads(line)[0]["subject"].encode(), line) for line in healthy
    ]
    for m in trouble:  # hostile messages anywhere between the healthy ones, in order
        order.insert(rng.randrange(len(order) + 1), (m.key, m.value))

    asyncio.run(create_topics(broker, ns, PARTITIONS))
    produce_keyed(broker, topic, order)
    worker = Worker(broker, ns, tmp_path / "worker.log")
    worker.start()
    worker.finish(timeout_s=240)  # caught up, then a clean stop (exit 0): it never crashed
    log = (tmp_path / "worker.log").read_text()
    assert "Crashed" not in log and "Traceback" not in log, log[-3000:]

    # Every hostile message the fold cannot take is dead-lettered with its reason.
    expected = Counter(m.expect for m in trouble if m.expect != "folded")
    assert dead_letter_reasons(broker, ns) == expected
    # No collateral damage: the healthy executions' outputs are the healthy fleet's own.
    got, _ = live(broker, ns)
    want = offline(healthy)
    assert healthy_only(got) == want, explain(healthy_only(got), want)
    # The valid hostile runs were folded, not lost.
    runs = {
        orjson.loads(r)["execution_id"] for slot, rs in got.items() if slot[0] == "runs" for r in rs
    }
    assert {e for e in runs if e.startswith(HOSTILE_PREFIX)}
    assert main(["replay", "--broker", broker, "--prefix", ns, "--verify", "-q"]) == 0
