"""The analyst commands on the embedded broker, as docs/analysis.md pastes them:
`runs analyze`, `runs compare`, `goals list|patterns|suggest`, text and --json."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from schemas.codec import encode_event
from streams.kafka.topicio import produce_lines
from streams.kafka.topics import create_topics
from tests.streams.livelog import namespace
from tests.streams.views.test_analysis import fail_run, ok_run

pytestmark = pytest.mark.broker
AGENTFOLD = Path(sys.executable).parent / "agentfold"


@pytest.fixture(scope="module")
def five(broker: str) -> str:
    ns = namespace()
    events = (
        ok_run("run-1", 0)
        + fail_run("run-2", 10)
        + fail_run("run-3", 20)
        + ok_run("run-4", 30)
        + fail_run("run-5", 40)
    )
    asyncio.run(create_topics(broker, ns, 2))
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", [encode_event(e) for e in events], 2))
    return ns


def cli(broker: str, ns: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFOLD_")}
    done = subprocess.run(
        [str(AGENTFOLD), *args, "--broker", broker, "--prefix", ns],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_runs_analyze_and_compare(broker: str, five: str) -> None:
    text = cli(broker, five, "runs", "analyze", "run-2")
    assert text.startswith("=== Failure Analysis for run-2 ===\n")
    assert "Root Cause: No data to process\n" in text
    assert "  → Add empty input handling\n" in text
    as_json = orjson.loads(cli(broker, five, "runs", "analyze", "run-3", "--json"))
    assert as_json["failure_point"] == "✗ [process-node] Process results → Process data"
    assert "only failed runs are analysed" in cli(broker, five, "runs", "analyze", "run-1")
    compared = cli(broker, five, "runs", "compare", "run-1", "run-2")
    assert "  - Diverged at decision 1: chose 'filter' vs 'process'\n" in compared
    as_json = orjson.loads(cli(broker, five, "runs", "compare", "run-1", "run-4", "--json"))
    assert as_json["differences"] == []


def test_goals_list_patterns_suggest(broker: str, five: str) -> None:
    listed = cli(broker, five, "goals", "list", "--json")
    assert orjson.loads(listed) == {
        "goal_id": "g",
        "runs": 5,
        "completed": 2,
        "failed": 3,
        "open": 0,
    }
    patterns = cli(broker, five, "goals", "patterns", "g")
    assert "Success Rate: 40.0%\n" in patterns
    assert "  - process-node: 60.0% failure rate\n" in patterns
    assert "  - process-node: 5 decisions, 40.0% succeeded, 72.0 ms average latency" in patterns
    suggested = orjson.loads(cli(broker, five, "goals", "suggest", "g", "--json"))
    assert [s["type"] for s in suggested] == [
        "node_improvement",
        "error_handling",
        "architecture",
    ]


def test_unknown_goal_and_run_say_what_exists(broker: str, five: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFOLD_")}
    for args, expected in (
        (("goals", "patterns", "nope"), "goals with runs: 'g'"),
        (("runs", "analyze", "nope"), "no run of execution 'nope'"),
    ):
        done = subprocess.run(
            [str(AGENTFOLD), *args, "--broker", broker, "--prefix", five],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode != 0 and expected in done.stderr, done.stderr


ROOT = Path(__file__).resolve().parents[3]


def test_goals_define_and_show(broker: str, tmp_path: Path) -> None:
    ns = namespace()
    asyncio.run(create_topics(broker, ns, 3))
    defined = cli(broker, ns, "goals", "define", str(ROOT / "examples/goals/support.toml"))
    assert "defined goal support-triage version 1 (2 criteria, 2 constraints)" in defined
    lines = (ROOT / "examples" / "goals.jsonl").read_bytes().splitlines()
    asyncio.run(produce_lines(broker, f"{ns}.telemetry", lines, 3))
    shown = orjson.loads(cli(broker, ns, "goals", "show", "report-writer", "--json"))
    assert shown["recommendation"] == "complete" and shown["overall_progress"] == 1.0
    assert shown["executions"] == ["report-001", "report-002", "report-003"]
    text = cli(broker, ns, "goals", "show", "support-triage")
    assert text.startswith("=== Goal support-triage (version 1): Triage support tickets ===")
    assert "Recommendation: continue" in text and "[not met] sc-answer" in text
    # the c-cost budget (tokens <= 500), detected by the fold: soft, so still `continue`
    assert "Constraint violations (4):" in text
    assert "  - c-cost in triage-001 at 2026-11-23T09:03:30.000Z: tokens 600 > 500" in text

    bad = tmp_path / "bad.toml"
    bad.write_text('[[goals]]\nid = "g"\nname = "no version"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFOLD_")}
    done = subprocess.run(
        [str(AGENTFOLD), "goals", "define", str(bad), "--broker", broker, "--prefix", ns],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "goal 1: version: Field required" in done.stderr
