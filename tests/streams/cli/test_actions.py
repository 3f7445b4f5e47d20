"""`agentfold actions show` on the embedded broker: the example fleet's actions."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from streams.kafka.topicio import produce_lines
from streams.kafka.topics import create_topics
from tests.streams.livelog import namespace

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[3]
AGENTFOLD = Path(sys.executable).parent / "agentfold"


def show(broker: str, ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFOLD_")}
    return subprocess.run(
        [str(AGENTFOLD), "actions", "show", *args, "--broker", broker, "--prefix", ns],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_actions_show(broker: str) -> None:
    ns = namespace()
    lines = (ROOT / "examples" / "fleet.jsonl").read_bytes().splitlines()
    asyncio.run(create_topics(broker, ns, 4))
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", lines, 4))
    text = show(broker, ns, "act-research")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("action act-research (")
    assert "  steps (credit):\n" in text.stdout and "closed by completed" in text.stdout
    chain = orjson.loads(show(broker, ns, "act-forgotten", "--json").stdout)
    assert chain["action_id"] == "act-forgotten" and chain["closed_by"] == "timeout"
    missing = show(broker, ns, "act-nope")
    assert missing.returncode != 0 and "no closed action 'act-nope'" in missing.stderr
