"""`make bench` keeps working: every benchmark runs end to end on a tiny log.

The figures of so small a run mean nothing and nothing here asserts a speed; what is
checked is that each script gets through all its stages and prints every figure it
promises. The broker-backed ones run on the session's embedded broker (`--broker`)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RATE = r"\s+[\d,]+ events/s"


def run_bench(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def assert_rates(out: str, labels: list[str]) -> None:
    for label in labels:
        found = re.search(re.escape(label) + RATE, out)
        assert found is not None, f"no rate for {label!r} in:\n{out}"
        assert int(found.group(0).split()[-2].replace(",", "")) > 0, found.group(0)


def test_fold_bench() -> None:
    out = run_bench("fold.py", "--events", "3000", "--executions", "30", "--partitions", "2")
    assert_rates(out, ["parse", "decode", "fold", "goals", "end2end"])
    assert "events/s/core target" in out
    assert re.search(r"goal facts cost: goals / fold = [\d.]+", out), out


@pytest.mark.broker
def test_live_bench(broker: str) -> None:
    out = run_bench(
        "live.py",
        *("--broker", broker, "--events", "2000", "--executions", "20"),
        *("--single-events", "300", "--rss-events", "2000", "--rss-executions", "40"),
        *("--rounds", "2"),
    )
    assert f"broker {broker}" in out
    assert_rates(
        out,
        [
            "(a) raw aiokafka + orjson",
            "(b) Faust no-op agent",
            "(b') Faust no-op, 50-event messages",
            "(c) worker, single-event messages",
            "(d) worker, 50-event messages",
            "(d') (d), /metrics scraped every 1 s",
        ],
    )
    assert re.search(r"metrics cost: \(d'\) / \(d\) = [\d.]+", out), out
    assert re.search(r"\(d\) worker, 50-event messages .* runs [\d,]+, [\d,]+$", out, re.M), out
    assert re.search(r"\(e\) worker RSS over 2,000 events / 40 executions: 25% \d+ MiB", out), out
    assert "targets: (d) ≥ 100,000 events/s →" in out


@pytest.mark.broker
def test_replay_bench(broker: str) -> None:
    out = run_bench(
        "replay.py", "--broker", broker, "--events", "3000", "--executions", "30", "--batch", "10"
    )
    assert_rates(out, ["(a) raw aiokafka + orjson"])
    assert re.search(r"\(b\) replay, one process \(1\)" + RATE, out), out
    assert "target: replay ≥ 150,000 events/s →" in out


@pytest.mark.broker
def test_sdk_bench(broker: str) -> None:
    out = run_bench("sdk.py", "--broker", broker, "--events", "2000", "--executions", "20")
    assert_rates(out, ["SDK, record → delivered"])


@pytest.mark.broker
def test_scale_bench(broker: str) -> None:
    out = run_bench(
        "scale.py",
        *("--broker", broker, "--events", "2000", "--executions", "40", "--partitions", "2"),
        *("--rounds", "1"),
    )
    assert_rates(out, ["(a) raw aiokafka + orjson", "(1) one worker process"])
    assert_rates(out, ["(2) two worker processes"])
    assert re.search(r"two processes / one: [\d.]+× .* on \d+ cores", out), out
    assert re.search(r"\(r\) restore of [\d,]+ executions over 2 partitions", out), out


@pytest.mark.broker
def test_bridge_bench(broker: str) -> None:
    out = run_bench(
        "bridge.py",
        *("--broker", broker, "--spans", "1000", "--agents", "10", "--per-message", "50"),
        *("--partitions", "2", "--rounds", "1"),
    )
    assert re.search(r"\(a\) raw aiokafka \+ protobuf parse\s+[\d,]+ spans/s", out), out
    assert re.search(r"\(b\) agentfold bridge otlp\s+[\d,]+ spans/s\s+[\d.]+× raw", out), out


@pytest.mark.broker
def test_peers_bench(broker: str) -> None:
    out = run_bench(
        "peers.py",
        *("--broker", broker, "--events", "2000", "--executions", "40", "--partitions", "2"),
        *("--rounds", "1"),
    )
    rows = [
        "raw aiokafka + orjson (ceiling)",
        "Faust no-op agent, 1 event/message",
        "agentfold worker, 1 event/message",
        "agentfold worker, SDK batches (≤ 50 events)",
        "the same, the runs' goal defined",
    ]
    has_quix = "Quix Streams is not installed" not in out
    if has_quix:
        rows.append("Quix Streams: state + 90-min window, final")
    for label in rows:
        # rate, × raw, × Quix (- without it), CPU µs/event, the runs
        found = re.search(re.escape(label) + r"\s+([\d,]+)\s+[\d.]+\s+([\d.]+|-)\s+[\d.]+\s", out)
        assert found is not None, f"no row for {label!r} in:\n{out}"
        assert int(found.group(1).replace(",", "")) > 0, found.group(0)
    assert re.search(
        r"goal stage cost: goals / batched = [\d.]+ \(target ≥ 0.90\); CPU per event ×([\d.]+|\?)",
        out,
    ), out
    if has_quix:
        assert re.search(r"targets: unbatched ≥ 1.0× Quix → (met|NOT met) \([\d.]+\)", out), out
    else:
        assert "not judged without Quix Streams" in out
