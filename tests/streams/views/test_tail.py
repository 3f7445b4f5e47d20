"""`agentfold tail`: readable lines per record; on the broker, --from-beginning --to-end."""

from __future__ import annotations

import orjson
import pytest

from streams.cli import main
from streams.views.render import RED
from streams.views.tail import format_record
from tests.streams.livelog import LiveLog


def test_a_telemetry_batch_gives_one_line_per_event() -> None:
    batch = orjson.dumps(
        [
            {"type": "agentfold.metric", "subject": "e1", "time": "2026-11-22T10:00:01Z",
             "seq": 1, "data": {"name": "impressions", "value": 3, "unit": "n"}},
            {"type": "agentfold.outcome", "subject": "e1", "time": "2026-11-22T10:00:02Z",
             "seq": 2, "data": {"success": False, "error": "boom"}},
        ]
    )  # fmt: skip
    lines = format_record("telemetry", 3, 17, batch)
    assert len(lines) == 2
    assert "p3" in lines[0] and "@17" in lines[0] and "impressions=3n" in lines[0]
    assert "10:00:02" in lines[1] and "FAILED boom" in lines[1]


def test_outputs_are_summarised_and_coloured_only_when_asked() -> None:
    value = orjson.dumps(
        {"execution_id": "e1", "window_start": "2026-11-22T09:00:00.000Z",
         "window_end": "2026-11-22T10:30:00.000Z", "score": 0.96, "signal": "metric_ratio",
         "sample_count": 6, "late_events": 0}
    )  # fmt: skip
    plain = format_record("stagnation", 0, 0, value)[0]
    assert plain.endswith("e1  09:00:00–10:30:00  score 0.96 (metric_ratio) · 6 samples")
    assert "\033[" not in plain
    assert RED in format_record("stagnation", 0, 0, value, colour=True)[0]
    assert "(not JSON)" in format_record("runs", 0, 0, b"\xff")[0]


@pytest.mark.broker
def test_tail_prints_a_topic_from_the_beginning(
    broker: str, fleet_ns: LiveLog, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--broker", broker, "--prefix", fleet_ns.ns, "--from-beginning", "--to-end"]
    assert main(["tail", "healing", *base]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 26  # what `agentfold fold examples/fleet.jsonl --partitions 4` gives
    assert any(" planned " in line for line in lines)
    assert any(" suppressed " in line for line in lines)
    assert any(" reported " in line for line in lines)
    assert main(["tail", "healing", "--execution", "exec-stagnant", *base]) == 0
    mine = capsys.readouterr().out.splitlines()
    assert 0 < len(mine) < 26 and all("exec-stagnant" in line for line in mine)
    assert main(["tail", f"{fleet_ns.ns}.runs", "--json", *base]) == 0
    runs = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(runs) == 11 and all("execution_id" in r for r in runs)
    assert main(["tail", "telepathy", *base]) == 2
    assert "unknown agentfold topic" in capsys.readouterr().err
