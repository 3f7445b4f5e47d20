"""Every command that talks to Kafka, pointed at a closed port: one line saying what is
wrong and what to try, exit 2 — no traceback, no client noise, no unclosed clients."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FLEET = ROOT / "examples" / "fleet.jsonl"
COMMANDS = [
    ["topics", "list"],
    ["topics", "create"],
    ["produce", str(FLEET)],
    ["replay", "--verify"],
    ["replay", "--out", "-"],
    ["runs", "list"],
    ["runs", "show", "exec-1"],
    ["tail", "runs", "--to-end"],
]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_an_unreachable_broker_is_one_actionable_line(command: list[str]) -> None:
    broker = f"127.0.0.1:{closed_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *command, "--broker", broker],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert lines == [
        f"agentfold: error: no Kafka broker answers at {broker}: pass --broker HOST:PORT or "
        "set AGENTFOLD_BROKER (`agentfold broker` starts an embedded one)"
    ]
