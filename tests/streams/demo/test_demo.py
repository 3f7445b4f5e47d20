"""`agentfold demo` exactly as `make demo` runs it (its own embedded broker), and the
compressed timings it folds with."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from processors.config import FoldConfig
from streams.demo.run import demo_fold_config
from tests.streams.livelog import ROOT


@pytest.mark.parametrize("window_s", [4, 6, 10, 60])
def test_demo_timings_are_designs_compressed(window_s: int) -> None:
    cfg, design = demo_fold_config(window_s), FoldConfig()
    scale = window_s / design.window_s
    assert cfg.window_s == window_s
    assert cfg.grace_s == 1
    for action, seconds in design.cooldown_s.items():
        assert cfg.cooldown_s[action] == max(1, round(seconds * scale))
    assert cfg.frequency_window_s == window_s
    assert cfg.ack_timeout_s >= 5  # the executor's attempt (2 s) must beat it
    assert cfg.run_inactivity_s == 3 * window_s
    assert cfg.action_ttl_s == window_s
    # Only timings change: thresholds, caps and the tier → action map stay the defaults.
    same = {"tier3_at", "tier2_at", "healthy_below", "tier_actions", "max_attempts"}
    assert {k: getattr(cfg, k) for k in same} == {k: getattr(design, k) for k in same}


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


@pytest.mark.broker
def test_make_demo_shows_the_loop_in_under_90s_and_cleans_up() -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    elapsed = time.monotonic() - started
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert elapsed < 90, f"took {elapsed:.0f}s"
    assert "\033[" not in out  # no colour off a terminal / with NO_COLOR
    rows = {
        line.split()[0]: line
        for line in out.splitlines()
        if line.strip().startswith("exec-") and "planned" in line
    }
    assert set(rows) == {
        "exec-healthy",
        "exec-stagnant",
        "exec-silent",
        "exec-looping",
        "exec-failing",
        "exec-actions",
    }
    assert re.search(
        r"completed .*1 planned, \d+ duplicate_action .*1 success", rows["exec-stagnant"]
    )
    assert "timed_out" in rows["exec-silent"] and "completion_timeout" in rows["exec-silent"]
    assert "0 planned" in rows["exec-healthy"]
    assert "dead letters: 1 invalid_json, 1 schema_violation, 1 unknown_type" in out
    # goal progress from the worker's goal stage: moving, then each goal's recommendation
    # (the failing syncer breaks sync-contacts' hard failure budget)
    assert len(re.findall(r"goal +sync-contacts +progress", out)) >= 3, out
    assert "goal grow-audience: progress 100%" in out and "→ complete" in out
    assert re.search(r"goal sync-contacts: .*1 constraint violation\(s\) → adjust", out), out
    assert re.search(r"✓ offline fold of \d+ events = the \d+ records emitted live", out)
    port = re.search(r"embedded broker on 127\.0\.0\.1:(\d+)", out)
    assert port is not None, out[:500]
    leftovers = _processes_mentioning(f"127.0.0.1:{port.group(1)}")
    assert not leftovers, leftovers
