"""Every long-running command stops as a terminal job should: Ctrl-C reaches the whole
process group; the command exits within 10 s with 130 (SIGINT) or 143 (SIGTERM), a
short log and a one-line summary, no traceback, and nothing it started is left running.
(The worker has its own tests: tests/streams/worker/test_signals.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.kafka.topicio import produce_lines
from streams.kafka.topics import create_topics
from streams.testing import batched, generate
from tests.streams.livelog import PARTITIONS, namespace

pytestmark = pytest.mark.broker


class Job:
    """`agentfold …` in its own process group, as a shell runs a foreground job."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.mark = uuid.uuid4().hex
        self.log = tmp_path / f"{args[0]}-{self.mark[:6]}.log"
        env = {**os.environ, "TEST_JOB_MARK": self.mark}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", *args],
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, ready: Callable[[], bool], timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            assert self.proc.poll() is None, self.text()
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.1)

    def ctrl_c(self, signum: int = signal.SIGINT) -> tuple[int, float]:
        started = time.monotonic()
        os.killpg(self.proc.pid, signum)
        code = self.proc.wait(timeout=15)
        return code, time.monotonic() - started

    def left_running(self) -> list[int]:
        """Processes (not zombies) that inherited this job's environment mark."""
        time.sleep(0.3)
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if self.mark.encode() not in (entry / "environ").read_bytes():
                    continue
                state = (entry / "stat").read_text().split(") ", 1)[1][0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                found.append(int(entry.name))
        return found

    def check_stopped(self, code: int, seconds: float, expected: int, summary: str) -> None:
        text = self.text()
        assert code == expected, text[-2000:]
        assert seconds < 10, text[-2000:]
        assert "Traceback" not in text, text[-3000:]
        # The summary is the last word: nothing after it (no "Unclosed …" client, no
        # "Task was destroyed" at interpreter exit).
        assert summary in text.strip().splitlines()[-1], text[-2000:]
        assert len(text.splitlines()) < 100, text[-2000:]
        assert self.left_running() == []


def test_broker(tmp_path: Path) -> None:
    job = Job(tmp_path, "broker")
    job.wait_for(lambda: "listening on" in job.text())
    job.check_stopped(*job.ctrl_c(), 130, "agentfold broker: stopped")


def test_broker_on_sigterm(tmp_path: Path) -> None:
    job = Job(tmp_path, "broker")
    job.wait_for(lambda: "listening on" in job.text())
    job.check_stopped(*job.ctrl_c(signal.SIGTERM), 143, "agentfold broker: stopped")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_executor(broker: str, tmp_path: Path, signum: int) -> None:
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    # The default group: other tests' executors (some killed) may still be members.
    job = Job(tmp_path, "executor", "--broker", broker, "--prefix", ns)
    job.wait_for(lambda: "Ctrl-C to stop" in job.text())
    time.sleep(1.0)  # in the group, polling
    job.check_stopped(*job.ctrl_c(signum), 128 + signum, "planned actions seen")


def test_tail_following(broker: str, tmp_path: Path) -> None:
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    job = Job(tmp_path, "tail", "telemetry", "--broker", broker, "--prefix", ns)
    time.sleep(3.0)  # started and following (it prints nothing until records come)
    assert job.proc.poll() is None, job.text()
    job.check_stopped(*job.ctrl_c(), 130, "agentfold tail: stopped")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if int((entry / "stat").read_text().split(") ", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_replay_with_jobs(broker: str, tmp_path: Path) -> None:
    """Interrupted while its spawned jobs fold: they go with it, without a traceback
    from each."""
    ns = namespace()
    asyncio.run(create_topics(broker, ns, PARTITIONS))
    log = batched(generate(100_000, 1_000, seed=3), 20)
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", log, PARTITIONS))
    job = Job(
        tmp_path, "replay", "--broker", broker, "--prefix", ns, "--jobs", "2", "--out", "o.jsonl"
    )
    # The jobs exist only while the partitions fold (the resource tracker is one more).
    job.wait_for(lambda: len(_children(job.proc.pid)) >= 3, timeout_s=60)
    job.check_stopped(*job.ctrl_c(), 130, "agentfold: interrupted")


def test_demo(tmp_path: Path) -> None:
    job = Job(tmp_path, "demo")
    job.wait_for(lambda: "window" in job.text(), timeout_s=90)  # the fleet is running
    job.check_stopped(*job.ctrl_c(), 130, "agentfold: interrupted")


def test_broker_whose_broker_process_dies_says_so(tmp_path: Path) -> None:
    job = Job(tmp_path, "broker")
    job.wait_for(lambda: "listening on" in job.text())
    port = job.text().split("127.0.0.1:", 1)[1].split()[0]
    tansu = [
        pid
        for pid in job.left_running()
        if f":{port}".encode() in Path(f"/proc/{pid}/cmdline").read_bytes() and pid != job.proc.pid
    ]
    assert tansu, job.text()
    for pid in tansu:
        os.kill(pid, signal.SIGKILL)
    assert job.proc.wait(timeout=10) == 1
    assert "exited" in job.text().splitlines()[-1]
