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


@pytest.mark.parametrize("command", [["executor"], ["worker"], ["topics", "list"], ["demo"]])
def test_a_broker_address_that_is_not_host_port_says_so(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *command, "--broker", "HOST:PORT"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "'HOST:PORT' is not a host and a port number (e.g. localhost:9092" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_agentfold_variable_is_warned_about_with_the_nearest_name() -> None:
    import os

    env = {**os.environ, "AGENTFOLD_WINDW_S": "600"}
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert (
        "agentfold: warning: AGENTFOLD_WINDW_S is not a setting and is ignored; "
        "did you mean AGENTFOLD_WINDOW_S?"
    ) in done.stderr


def test_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("agentfold ")


def test_the_executor_reads_the_variables_its_help_names() -> None:
    """`--help` shows `env AGENTFOLD_MAX_IN_FLIGHT`: the variable is read, and a bad
    value is refused naming it (before any connection is tried)."""
    import os

    env = {**os.environ, "AGENTFOLD_MAX_IN_FLIGHT": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "executor", "--broker", "127.0.0.1:1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "max_in_flight (from $AGENTFOLD_MAX_IN_FLIGHT)" in done.stderr
    assert "AGENTFOLD_MAX_IN_FLIGHT is not a setting" not in done.stderr
