"""Build valid events tersely for tests: times are minutes after T0, an aligned window start."""

from __future__ import annotations

from typing import Any

from processors.config import FoldConfig
from processors.fold import PartitionFold
from schemas.codec import decode_event
from schemas.outputs import OutputRecord, validate_output
from schemas.records import Event
from schemas.timefmt import format_ms, parse_rfc3339_ms

T0 = parse_rfc3339_ms("2026-11-22T07:30:00Z")  # a 90-minute window starts here
MIN = 60_000
WINDOW = 90 * MIN
GRACE = 30_000


def at(minutes: float) -> int:
    return T0 + int(minutes * MIN)


class Agent:
    """Emits the events of one execution with ids and seqs stamped as the SDK would."""

    def __init__(self, subject: str = "exec-1", source: str = "agent-1", seq: bool = True):
        self.subject = subject
        self.source = source
        self.use_seq = seq
        self.n = 0
        self.decisions = 0

    def __call__(self, kind: str, minutes: float, **data: Any) -> Event:
        self.n += 1
        obj: dict[str, Any] = {
            "specversion": "1.0",
            "id": f"{self.subject}-{self.n}",
            "source": self.source,
            "type": f"agentfold.{kind}",
            "subject": self.subject,
            "time": format_ms(at(minutes)),
            "schema_version": 1,
            "data": data,
        }
        if self.use_seq:
            obj["seq"] = self.n
        return decode_event(obj)

    def start(self, minutes: float = 0, **data: Any) -> Event:
        return self("run_started", minutes, **{"goal_id": "g", **data})

    def metric(self, minutes: float, name: str, value: float) -> Event:
        return self("metric", minutes, name=name, value=value)

    def pair(self, minutes: float, impressions: float, engagements: float) -> list[Event]:
        return [
            self.metric(minutes, "impressions", impressions),
            self.metric(minutes, "engagements", engagements),
        ]

    def decide(self, minutes: float, intent: str = "do it", chosen: str = "a", node: str = "n"):
        decision_id = f"dec_{self.decisions}"
        self.decisions += 1
        ev = self(
            "decision",
            minutes,
            decision_id=decision_id,
            node_id=node,
            intent=intent,
            chosen_option_id=chosen,
        )
        return decision_id, ev

    def outcome(self, minutes: float, decision_id: str, success: bool, result: Any = None):
        return self("outcome", minutes, decision_id=decision_id, success=success, result=result)

    def end(self, minutes: float, success: bool = True, **data: Any) -> Event:
        return self("run_ended", minutes, success=success, **data)


def tick(minutes: float, partition: int | None = None) -> Event:
    data = {} if partition is None else {"partition": partition}
    return decode_event(
        {
            "specversion": "1.0",
            "id": f"tick-{minutes}",
            "source": "worker",
            "type": "agentfold.tick",
            "time": format_ms(at(minutes)),
            "data": data,
        }
    )


def fold_all(
    events: list[Event], cfg: FoldConfig | None = None
) -> tuple[PartitionFold, list[OutputRecord]]:
    fold = PartitionFold(cfg or FoldConfig())
    out: list[OutputRecord] = []
    for ev in events:
        out.extend(fold.apply(ev))
    return fold, out


def values(records: list[OutputRecord], topic: str) -> list[Any]:
    """The topic's records as validated models: every test checks the output contract too."""
    return [validate_output(r) for r in records if r.topic == topic]
