"""`agentfold replay --verify`: the rebuilt outputs against the live output topics,
record by record and partition by partition.

What counts as the same:
- live delivery is at least once, so a record seen again with the same id and the same
  bytes is a redelivery (counted, not a difference); the same id with other bytes is;
- a compacted topic (runs) may have lost superseded records to compaction: when the
  live partition holds fewer records than the replay, the latest record per key is
  compared instead;
- a partition whose start was removed by retention is compared from its first
  surviving record on;
- goal facts are compared per partition of the fold that wrote them (`goalfacts` is
  partitioned by goal id, and how workers interleave their facts in it is not the
  log's to say), and goals by their latest record per goal: intermediate goal records
  depend on that interleaving, the latest does not (processors/goalstage.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.canonical import canonical_json
from schemas.outputs import GOAL_FACTS, GOALS, LIVE_OUTPUT_TOPICS, RUNS, TELEMETRY, OutputRecord
from streams.folding.goalfacts import unpack
from streams.kafka.partitioner import output_partition
from streams.kafka.topicio import end_offsets, read_topic
from streams.kafka.topics import topic_name
from streams.replay.rebuild import concerns
from streams.views.goals import goal_records

COMPACTED = {RUNS}
LATEST_ONLY = {GOALS}  # compared by the latest record per key, always
Slot = tuple[str, int]  # (logical topic, partition)


@dataclass(frozen=True, slots=True)
class Entry:
    key: str | None
    value: bytes

    @property
    def id(self) -> str:
        return str(orjson.loads(self.value).get("id"))


@dataclass(slots=True)
class LiveSlot:
    entries: list[Entry]
    truncated: bool = False  # retention removed the start of the partition


@dataclass(slots=True)
class Difference:
    topic: str
    partition: int
    index: int
    what: str
    live: bytes | None = None
    replay: bytes | None = None


@dataclass(slots=True)
class SlotSummary:
    live: int = 0
    replay: int = 0
    duplicates: int = 0
    mode: str = "records"  # or "latest per key" / "from retention start" / ahead
    ahead: int = 0  # live records past the replayed input, not compared


@dataclass(slots=True)
class VerifyReport:
    slots: dict[Slot, SlotSummary] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def duplicates(self) -> int:
        return sum(s.duplicates for s in self.slots.values())


def group_replay(
    records: Iterable[tuple[int, OutputRecord]], partitions: int | None
) -> dict[Slot, list[Entry]]:
    """The replayed records by slot; with `partitions` (the telemetry's, for a whole replay: every
    partition, every execution), the goal stage's records too."""
    out: dict[Slot, list[Entry]] = {}
    facts = []
    for p, record in records:
        out.setdefault((record.topic, p), []).append(
            Entry(record.key, canonical_json(record.value))
        )
        if record.topic == GOAL_FACTS:
            facts.append(record.value)
    if partitions is not None:
        for goal in goal_records(facts):
            q = output_partition(GOALS, goal.key, 0, partitions)
            out.setdefault((GOALS, q), []).append(Entry(goal.key, canonical_json(goal.value)))
    return out


async def read_live(
    bootstrap: str, prefix: str, partitions: list[int] | None, execution: str | None
) -> dict[Slot, LiveSlot]:
    out: dict[Slot, LiveSlot] = {}
    for topic in LIVE_OUTPUT_TOPICS:
        # goalfacts and goals are partitioned by goal id: any partition may hold some
        by_goal = topic in (GOAL_FACTS, GOALS)
        parts = await read_topic(
            bootstrap, topic_name(prefix, topic), None if by_goal else partitions
        )
        for p, records in parts.items():
            # A first record past offset 0 means retention removed the start.
            truncated = bool(records) and records[0].offset > 0
            if topic != GOAL_FACTS:
                out[(topic, p)] = LiveSlot([], truncated)
            for r in records:
                key = r.key.decode("utf-8", errors="replace") if r.key is not None else None
                if topic == GOAL_FACTS:
                    _add_facts(out, key, r.value, truncated, partitions, execution)
                    continue
                if execution is not None and not concerns(
                    OutputRecord(topic, key, orjson.loads(r.value)), execution
                ):
                    continue
                live = out.setdefault((topic, p), LiveSlot([]))
                live.entries.append(Entry(key, r.value))
                live.truncated = live.truncated or truncated
    for (topic, _), live in out.items():
        if topic == GOAL_FACTS:  # the fold's order: its goals' facts are spread over partitions
            live.entries.sort(key=lambda e: int(orjson.loads(e.value)["seq"]))
    return out


def _add_facts(
    out: dict[Slot, LiveSlot],
    key: str | None,
    value: bytes,
    truncated: bool,
    partitions: list[int] | None,
    execution: str | None,
) -> None:
    """A goalfacts message's facts, each in the slot of the fold partition that wrote
    it (a message carries one goal's facts of one fetch: streams/folding/goalfacts.py)."""
    for fact in unpack(value):
        if execution is not None and not concerns(OutputRecord(GOAL_FACTS, key, fact), execution):
            continue
        slot = (GOAL_FACTS, int(fact["partition"]))
        if partitions is not None and slot[1] not in partitions:
            continue
        live = out.setdefault(slot, LiveSlot([]))
        live.entries.append(Entry(key, canonical_json(fact)))
        live.truncated = live.truncated or truncated


def verify(
    bootstrap: str,
    prefix: str,
    replayed: dict[Slot, list[Entry]],
    partitions: list[int] | None = None,
    execution: str | None = None,
    input_ends: dict[int, int] | None = None,
) -> VerifyReport:
    """`input_ends`: the telemetry end offsets the replay read up to. A partition whose
    telemetry has grown since may legitimately have more live records than the replay."""
    live = asyncio.run(read_live(bootstrap, prefix, partitions, execution))
    grown: set[int] = set()
    if input_ends is not None:
        now = asyncio.run(end_offsets(bootstrap, topic_name(prefix, TELEMETRY)))
        grown = {p for p, end in input_ends.items() if now.get(p, 0) > end}
    return compare(live, replayed, grown)


def compare(
    live: dict[Slot, LiveSlot], replayed: dict[Slot, list[Entry]], grown: Collection[int] = ()
) -> VerifyReport:
    report = VerifyReport()
    for slot in sorted(set(live) | set(replayed)):
        live_slot = live.get(slot, LiveSlot([]))
        _compare_slot(report, slot, live_slot, replayed.get(slot, []), slot[1] in grown)
    return report


def _dedupe(
    report: VerifyReport, slot: Slot, entries: list[Entry], summary: SlotSummary
) -> list[Entry]:
    seen: dict[str, bytes] = {}
    out = []
    for i, e in enumerate(entries):
        rid = e.id
        first = seen.get(rid)
        if first is None:
            seen[rid] = e.value
            out.append(e)
        elif first == e.value:
            summary.duplicates += 1
        else:
            report.differences.append(
                Difference(
                    slot[0],
                    slot[1],
                    i,
                    f"id {rid} delivered twice with different content",
                    first,
                    e.value,
                )
            )
    return out


def _compare_slot(
    report: VerifyReport, slot: Slot, live_slot: LiveSlot, replay: list[Entry], grown: bool
) -> None:
    summary = report.slots.setdefault(slot, SlotSummary())
    summary.live, summary.replay = len(live_slot.entries), len(replay)
    topic, p = slot
    if topic in LATEST_ONLY:
        summary.mode = "latest per key"
        live, replay = _latest(live_slot.entries), _latest(replay)
        summary.live = len(live)
        _compare_latest(report, slot, live, replay)
        return
    live = _dedupe(report, slot, live_slot.entries, summary)
    if live_slot.truncated and live:
        first = live[0].id
        start = next((i for i, e in enumerate(replay) if e.id == first), None)
        if start is None:
            report.differences.append(
                Difference(
                    topic,
                    p,
                    0,
                    f"live starts (after retention) at {first}, which the replay never produced",
                    live[0].value,
                )
            )
            return
        summary.mode = f"from retention start (first {start} not compared)"
        replay = replay[start:]
    if topic in COMPACTED and len(live) < len(replay):
        summary.mode = "latest per key (compacted)"
        live, replay = _latest(live), _latest(replay)
    for i, (a, b) in enumerate(zip(live, replay, strict=False)):
        if a != b:
            report.differences.append(Difference(topic, p, i, "records differ", a.value, b.value))
            return
    if len(live) > len(replay) and grown:
        n = len(live) - len(replay)
        summary.mode = "up to the replayed input (live is ahead on input appended since)"
        summary.ahead = n
    elif len(live) > len(replay):
        n = len(live) - len(replay)
        report.differences.append(
            Difference(
                topic, p, len(replay), f"live has {n} more record(s)", live[len(replay)].value
            )
        )
        report.hints.append(
            f"{topic} p{p}: the replay is a prefix of live, but no input was appended "
            "since the replay started — live emitted records the log does not explain"
        )
    elif len(replay) > len(live):
        n = len(replay) - len(live)
        report.differences.append(
            Difference(
                topic, p, len(live), f"live lacks {n} record(s)", None, replay[len(live)].value
            )
        )
        report.hints.append(
            f"{topic} p{p}: live is a prefix of the replay — is the worker caught up?"
        )


def _compare_latest(
    report: VerifyReport, slot: Slot, live: list[Entry], replay: list[Entry]
) -> None:
    """Latest records per key, compared key by key (their order is not the log's)."""
    topic, p = slot
    mine = {e.key: e for e in live}
    theirs = {e.key: e for e in replay}
    for i, key in enumerate(sorted(set(mine) | set(theirs), key=str)):
        a, b = mine.get(key), theirs.get(key)
        if a is None:
            what = f"live has no record for {key}"
        elif b is None:
            what = f"live has a record for {key} the replay does not"
        elif a.value != b.value:
            what = f"latest records for {key} differ"
        else:
            continue
        report.differences.append(
            Difference(topic, p, i, what, a.value if a else None, b.value if b else None)
        )


def _latest(entries: list[Entry]) -> list[Entry]:
    latest: dict[str | None, Entry] = {}
    for e in entries:
        latest.pop(e.key, None)
        latest[e.key] = e
    return list(latest.values())


def _field_diff(a: bytes | None, b: bytes | None) -> str:
    if a is None or b is None:
        return ""
    da: dict[str, Any] = orjson.loads(a)
    db: dict[str, Any] = orjson.loads(b)
    names = sorted(k for k in set(da) | set(db) if da.get(k) != db.get(k))
    shown = [f"{k}: {_short(da.get(k))} ≠ {_short(db.get(k))}" for k in names[:4]]
    return "; ".join(shown) + (f"; … {len(names) - 4} more" if len(names) > 4 else "")


def _short(v: Any, width: int = 60) -> str:
    text = orjson.dumps(v).decode()
    return text if len(text) <= width else text[: width - 1] + "…"


def render_report(report: VerifyReport, prefix: str, show: int = 5) -> str:
    lines = [f"verify: live {prefix}.* output topics vs replay"]
    per_topic: dict[str, list[int]] = {}
    for (topic, _p), s in report.slots.items():
        t = per_topic.setdefault(topic, [0, 0])
        t[0] += s.live - s.duplicates - s.ahead
        t[1] += s.replay
    bad = {d.topic for d in report.differences}
    for topic in LIVE_OUTPUT_TOPICS:
        if topic in per_topic:
            live_n, replay_n = per_topic[topic]
            verdict = "DIFFERENT" if topic in bad else "identical"
            lines.append(f"  {topic:<12} live {live_n:>9,}  replay {replay_n:>9,}  {verdict}")
    special = sorted({s.mode for s in report.slots.values() if s.mode != "records"})
    for mode in special:
        lines.append(f"  note: some partitions compared {mode}")
    if report.duplicates:
        lines.append(
            f"  {report.duplicates} redelivered record(s) on live topics (same id, same bytes: "
            "at-least-once delivery after a restart) were ignored"
        )
    if report.ok:
        lines.append("IDENTICAL: the live outputs are exactly what the log folds to")
        return "\n".join(lines)
    lines.append(
        f"DIFFERENT: {len(report.differences)} difference(s); "
        f"the first {min(show, len(report.differences))}:"
    )
    for d in report.differences[:show]:
        lines.append(f"  {d.topic} p{d.partition} #{d.index}: {d.what}")
        detail = _field_diff(d.live, d.replay)
        if detail:
            lines.append(f"      live ≠ replay: {detail}")
        elif d.live is not None or d.replay is not None:
            side = "live" if d.live is not None else "replay"
            value = orjson.loads(d.live or d.replay or b"null")
            lines.append(f"      {side}: {_short(value, 160)}")
    for hint in sorted(set(report.hints))[:show]:
        lines.append(f"  hint: {hint}")
    return "\n".join(lines)
