"""The example fleet is generated deterministically and shows every persona."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from processors.config import FoldConfig
from schemas.outputs import validate_output
from streams.folding.offline import OfflineFold

ROOT = Path(__file__).resolve().parents[2]


def load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_fleet", ROOT / "examples" / "gen_fleet.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_fleet_matches_its_generator() -> None:
    lines = load_generator().build()
    assert (ROOT / "examples" / "fleet.jsonl").read_bytes() == b"\n".join(lines) + b"\n"


def test_fleet_shows_every_persona() -> None:
    folder = OfflineFold(FoldConfig(), 8, "fleet")
    lines = (ROOT / "examples" / "fleet.jsonl").read_bytes().splitlines()
    recs = [e.record for e in folder.feed_lines(lines)]
    by_topic: dict[str, list] = {}
    for r in recs:
        by_topic.setdefault(r.topic, []).append(validate_output(r).model_dump(mode="json"))
    signals = {(s["execution_id"], s["signal"]) for s in by_topic["stagnation"]}
    assert ("exec-stagnant", "metric_ratio") in signals
    assert ("exec-silent", "silence") in signals
    assert ("exec-looping", "repetition") in signals
    assert ("exec-failing", "failure_streak") in signals
    assert all(
        s["score"] < 0.3 for s in by_topic["stagnation"] if s["execution_id"] == "exec-healthy"
    )
    reasons = {(h["execution_id"], h["reason"]) for h in by_topic["healing"]}
    assert ("exec-stagnant", "duplicate_action") in reasons
    assert ("exec-actions", "retry") in reasons
    chains = {c["action_id"]: c for c in by_topic["attribution"]}
    assert chains["act-forgotten"]["closed_by"] == "timeout"
    assert chains["act-search"]["parent_action_id"] == "act-research"
    assert len(by_topic["deadletter"]) == 4
    assert folder.stats.rejected == 4
    assert sum(f.state.meta.duplicates for f in folder.folds) == 2
