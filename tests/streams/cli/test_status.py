"""`agentfold status`: the worker group's position per partition; exit 0 once caught up."""

from __future__ import annotations

import asyncio

import pytest

from streams.cli import main
from streams.kafka import create_topics, produce_lines
from tests.streams.livelog import FLEET, PARTITIONS, LiveLog, lines_of, namespace


@pytest.mark.broker
def test_status_says_caught_up_or_how_far_behind(
    broker: str, fleet_ns: LiveLog, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--broker", broker, "--prefix", fleet_ns.ns, "--group", fleet_ns.ns]
    assert main(["status", *base]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1 + PARTITIONS and "caught up" in err
    # Stream time per partition, from the worker's last commit record: the fleet's day.
    assert out.splitlines()[0].split()[-5:] == ["STREAM", "TIME", "GOAL", "FACTS", "LAG"]
    assert all(row.split()[-2].startswith("2026-11-22T") for row in out.splitlines()[1:]), out
    # the goal stage of every partition has applied every goal fact (the fleet defines one)
    assert all(row.split()[-1] == "0" for row in out.splitlines()[1:]), out

    ns = namespace()  # produced, never folded
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", lines_of(FLEET), PARTITIONS))
    idle = ["--broker", broker, "--prefix", ns, "--group", ns]
    assert main(["status", *idle]) == 1
    assert "message(s) behind" in capsys.readouterr().err
    assert main(["status", *idle, "--wait", "--timeout", "1"]) == 1
