"""The Quix Streams peer of bench/peers.py: per-key state and a tumbling event-time
window over agentfold's telemetry, run as its own process until stopped.

Per message: JSON decode, the event time parsed from `time`, a per-execution counter
in state, then a 90-minute tumbling window (30 s grace) reducing each execution's
events to a count and the latest event id, emitted when the window closes (`.final()`).
Far less than the fold does (no runs, no healing, no attribution): a floor for it.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from quixstreams import Application, State
from quixstreams.models import TopicConfig


def event_time(value: Any, headers: Any, timestamp: float, timestamp_type: Any) -> int:
    """The event's own time (`time`, RFC 3339), in ms: windows run on event time."""
    return int(datetime.fromisoformat(value["time"]).timestamp() * 1000)


def count_per_key(value: dict[str, Any], state: State[Any, Any]) -> dict[str, Any]:
    seen = state.get("events", 0) + 1
    state.set("events", seen)
    return value


def reduce(aggregate: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    return {"events": aggregate["events"] + 1, "last": value["id"]}


def first(value: dict[str, Any]) -> dict[str, Any]:
    return {"events": 1, "last": value["id"]}


def main() -> None:
    app = Application(
        broker_address=os.environ["QUIX_BROKER"],
        consumer_group=os.environ["QUIX_GROUP"],
        auto_offset_reset="earliest",
        commit_interval=float(os.environ.get("QUIX_COMMIT", "0.5")),
        state_dir=os.environ["QUIX_STATE"],
        loglevel="WARNING",
        # The embedded broker holds a JoinGroup for half the session timeout.
        consumer_extra_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 500},
    )
    # The embedded broker reports only configs set explicitly: Quix copies the source
    # topic's retention to its changelogs and needs one.
    config = TopicConfig(
        num_partitions=int(os.environ["QUIX_PARTITIONS"]),
        replication_factor=1,
        extra_config={"retention.ms": "-1"},
    )
    topic = app.topic(
        os.environ["QUIX_TOPIC"],
        value_deserializer="json",
        config=config,
        timestamp_extractor=event_time,
    )
    sdf = app.dataframe(topic)
    sdf = sdf.apply(count_per_key, stateful=True)
    window = sdf.tumbling_window(timedelta(minutes=90), grace_ms=timedelta(seconds=30))
    window.reduce(reducer=reduce, initializer=first).final()
    app.run()


if __name__ == "__main__":
    main()
