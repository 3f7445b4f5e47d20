"""Stopping `agentfold worker` on the embedded broker as a terminal does: the signal
goes to the whole process group. The first one drains and exits 130 (SIGINT) or 143
(SIGTERM) within seconds, with a bounded log; a second one exits at once; the broker it
started is gone either way."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.broker


def start_worker(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, str]:
    log = tmp_path / "worker.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "worker", "--partitions", "2"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # noqa: SIM115 - the child holds it
        start_new_session=True,  # its own process group, as a terminal's job
    )
    deadline = time.monotonic() + 60
    while "state restored" not in log.read_text(errors="replace"):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    found = re.search(r"embedded broker on 127\.0\.0\.1:(\d+)", log.read_text())
    assert found is not None
    return proc, log, found.group(1)


def running_with(port: str) -> list[int]:
    """Live (not zombie) processes whose command line names the port."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().split(") ", 1)[1][0]
        except (OSError, IndexError):
            continue
        if f":{port}".encode() in cmd and state != "Z":
            pids.append(int(proc.name))
    return pids


def test_ctrl_c_drains_and_exits_130_and_the_broker_goes_too(tmp_path: Path) -> None:
    proc, log, port = start_worker(tmp_path)
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=10) == 130
    assert time.monotonic() - started < 10
    time.sleep(0.5)
    assert running_with(port) == []
    text = log.read_text()
    assert "agentfold worker: stopped" in text and len(text.splitlines()) < 80


def test_a_second_signal_stops_at_once(tmp_path: Path) -> None:
    proc, log, port = start_worker(tmp_path)
    os.killpg(proc.pid, signal.SIGTERM)
    # As an operator does: again once it said it is stopping (under load the event
    # loop can take a moment to see the first signal at all).
    deadline = time.monotonic() + 10
    while "SIGTERM received" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=5) == 143
    assert time.monotonic() - started < 5  # the graceful path would drain first
    time.sleep(0.5)
    assert running_with(port) == []
    assert "stopped at once" in log.read_text()


def test_a_worker_whose_broker_is_gone_stops_within_its_timeout(tmp_path: Path) -> None:
    """Its broker died under it: the client's retries are rate-limited (not ~60 lines a
    second), and Ctrl-C exits 130 once the drain it cannot finish times out."""
    from streams.kafka.broker import EmbeddedBroker
    from streams.worker.run import worker_argv

    log = tmp_path / "worker.log"
    broker = EmbeddedBroker()
    address = broker.start()
    try:
        proc = subprocess.Popen(
            [*worker_argv(address, "gone", 2, tick_interval_s=1), "--stop-timeout", "3"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=open(log, "wb"),  # noqa: SIM115 - the child holds it
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while "state restored" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()  # a failed start must not leave a worker behind
                raise AssertionError(log.read_text())
            time.sleep(0.2)
    finally:
        broker.stop()
    before = len(log.read_text(errors="replace").splitlines())
    time.sleep(10)  # the client retries ≈ 60 times a second per connection
    retries = len(log.read_text(errors="replace").splitlines()) - before
    assert retries < 40, log.read_text()[-3000:]
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=15) == 130
    assert time.monotonic() - started < 3 + 4
    assert "could not finish stopping within 3 s" in log.read_text()
