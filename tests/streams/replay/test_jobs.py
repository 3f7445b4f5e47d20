"""Replay with several processes, as a user runs it: the installed console script,
from a working directory outside the repository, against the session broker — with the
compiled fold active and with the pure-Python one. Each spawned job must run the fold
its parent runs, and `--jobs 2` must give byte for byte what `--jobs 1` gives (issue:
every spawned job died at import on the compiled install)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.native import status
from tests.streams.livelog import LiveLog

AGENTFOLD = Path(sys.executable).parent / "agentfold"
NATIVE = status().startswith("native")
MODES = [
    pytest.param("1", marks=pytest.mark.skipif(not NATIVE, reason="no native build in this venv")),
    "0",
]


def agentfold(
    cwd: Path, native: str, broker: str, ns: str, *args: str
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "AGENTFOLD_NATIVE": native}
    env.pop("AGENTFOLD_BROKER", None)
    return subprocess.run(
        [str(AGENTFOLD), *args, "--broker", broker, "--prefix", ns],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=180,
    )


@pytest.mark.broker
@pytest.mark.parametrize("native", MODES)
def test_two_jobs_equal_one_from_outside_the_repo(
    broker: str, fleet_ns: LiveLog, tmp_path: Path, native: str
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    fold = "native (mypyc)" if native == "1" else "pure Python"

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        done = agentfold(outside, native, broker, fleet_ns.ns, *args)
        assert done.returncode == 0, done.stderr.decode()
        return done

    outputs = {}
    for jobs in ("1", "2"):
        summary = run("replay", "--jobs", jobs, "--out", f"all-{jobs}.jsonl").stderr.decode()
        assert f"{jobs} job(s), fold {fold}" in summary  # every job ran the parent's fold
        outputs[jobs] = (outside / f"all-{jobs}.jsonl").read_bytes()
        run("replay", "--jobs", jobs, "--execution", "exec-looping", "--out", f"one-{jobs}.jsonl")
    assert outputs["1"].count(b"\n") > 50
    assert outputs["2"] == outputs["1"]
    one = (outside / "one-1.jsonl").read_bytes()
    assert one and (outside / "one-2.jsonl").read_bytes() == one

    verified = run("replay", "--jobs", "2", "--verify", "-q")
    assert b"IDENTICAL" in verified.stdout

    shown = run("runs", "show", "exec-looping", "--json").stdout
    assert b'"exec-looping"' in shown
    listed = {jobs: run("runs", "list", "--jobs", jobs, "--json").stdout for jobs in ("1", "2")}
    assert listed["1"] and listed["2"] == listed["1"]
