"""The README's quickstart: the two commands first, and the five-line SDK example works
as pasted against a real broker."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from streams.kafka.topicio import read_topic
from streams.kafka.topics import create_topics
from tests.streams.livelog import namespace

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def test_the_quickstart_is_make_demo_and_make_test() -> None:
    first = blocks("sh")[0]
    assert [line.split()[:2] for line in first.splitlines()] == [
        ["make", "demo"],
        ["make", "test"],
    ]
    assert README.read_text().index(first) < README.read_text().index("```python")


@pytest.mark.broker
def test_the_sdk_example_works_as_pasted(broker: str) -> None:
    example = blocks("python")[0]
    assert len([line for line in example.splitlines() if line.strip()]) <= 7  # import + five
    ns = namespace()
    asyncio.run(create_topics(broker, ns, 2))
    env = {**os.environ, "AGENTFOLD_BROKER": broker, "AGENTFOLD_TOPIC_PREFIX": ns}
    done = subprocess.run(
        [sys.executable, "-c", example], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no warnings either
    parts = asyncio.run(read_topic(broker, f"{ns}.telemetry"))
    events = [
        e
        for records in parts.values()
        for r in records
        for e in (lambda d: d if isinstance(d, list) else [d])(orjson.loads(r.value))
    ]
    assert [e["type"] for e in events] == [
        "agentfold.run_started",
        "agentfold.decision",
        "agentfold.outcome",
        "agentfold.run_ended",
    ]
    assert {e["source"] for e in events} == {"my-agent"}
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
