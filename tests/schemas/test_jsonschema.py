"""`agentfold schema --out DIR`: one JSON Schema per event type and per output."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.events import KINDS
from schemas.outputs import LIVE_OUTPUT_TOPICS
from streams.cli import main


def test_schema_command_writes_one_file_per_type(tmp_path: Path) -> None:
    assert main(["schema", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == len(KINDS) + len(LIVE_OUTPUT_TOPICS)
    metric = json.loads((tmp_path / "agentfold.metric.schema.json").read_text())
    assert metric["properties"]["time"] == {
        "format": "date-time",
        "title": "Time",
        "type": "string",
    }
    assert metric["properties"]["type"]["const"] == "agentfold.metric"
    assert set(metric["required"]) >= {"id", "source", "subject", "time", "data"}
    tick = json.loads((tmp_path / "agentfold.tick.schema.json").read_text())
    assert "subject" not in tick.get("required", [])
