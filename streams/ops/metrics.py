"""The worker's metrics in Prometheus form, read at scrape time.

The worker already counts what it does (a Counter of names like `messages`,
`deadletter.<reason>`, `out.<topic>`) and holds each partition's fold state; the
collector turns those into metric families when Prometheus asks, so the hot path pays
nothing. Names follow Prometheus conventions (`agentfold_…_total` for counters, base
units: seconds, messages).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from processors.state import NO_TIME
from streams.folding.partition import LivePartition
from streams.healing.executor import ExecutorStats
from streams.otel.settings import BridgeStats

# Worker counter name -> (metric, help); the rest are labelled families below.
COUNTERS = {
    "messages": ("agentfold_messages", "telemetry messages folded"),
    "ticks.sent": ("agentfold_ticks_sent", "clock ticks this worker appended"),
    "flushes": ("agentfold_flushes", "state flushes queued"),
    "state.records": ("agentfold_state_records", "changelog records written"),
    "gaps": ("agentfold_offset_gaps", "offset gaps repaired before folding"),
    "skipped_applied": ("agentfold_redelivered_messages", "messages skipped as folded before"),
    "goals.facts": ("agentfold_goal_facts_applied", "goal facts the goal stage applied"),
    "goals.skipped": (
        "agentfold_goal_facts_skipped",
        "goal facts skipped: applied before, of an older definition, or of no known goal",
    ),
    "goals.bad_fact": ("agentfold_goal_facts_invalid", "goalfacts records that are not goal facts"),
}

# Per goal stage partition: (next goalfacts offset, high watermark or None, goals held).
GoalPositions = Callable[[], Mapping[int, tuple[int, int | None, int]]]


@dataclass(slots=True)
class WorkerView:
    """What the collector reads, injected: counters, the partitions' folds, and the
    consumer's high watermark per partition (None: not known yet)."""

    counters: Mapping[str, int]
    lives: Mapping[int, LivePartition]
    highwater: Callable[[int], int | None]
    now_ms: Callable[[], int]
    goals: GoalPositions = dict  # the goal stage's partitions (none: it does not run)


class WorkerCollector(Collector):
    def __init__(self, view: WorkerView) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        counters = dict(self.view.counters)  # a copy: the worker keeps counting
        for key, (name, doc) in COUNTERS.items():
            yield CounterMetricFamily(name, doc, value=counters.get(key, 0))
        yield _labelled(
            CounterMetricFamily(
                "agentfold_events", "valid events in the messages folded", labels=["kind"]
            ),
            counters,
            "kind.",
        )
        yield _labelled(
            CounterMetricFamily("agentfold_deadletters", "dead letters written", labels=["reason"]),
            counters,
            "deadletter.",
        )
        yield _labelled(
            CounterMetricFamily("agentfold_outputs", "output records sent", labels=["topic"]),
            counters,
            "out.",
        )
        yield _labelled(
            CounterMetricFamily(
                "agentfold_actions_closed",
                "attribution chains emitted, by how the action closed (completed, timeout, "
                "evicted: the seed's TTL and eviction counted apart)",
                labels=["closed_by"],
            ),
            counters,
            "actions.",
        )
        yield from self._partitions()
        yield from self._goal_stage()

    def _goal_stage(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "agentfold_goal_stage_lag_messages",
            "goal facts in the partition the goal stage has not applied yet",
            labels=["partition"],
        )
        goals = GaugeMetricFamily(
            "agentfold_goals", "goals held by the goal stage", labels=["partition"]
        )
        for p, (expected, high, n) in sorted(self.view.goals().items()):
            if high is not None:
                lag.add_metric([str(p)], max(0, high - expected))
            goals.add_metric([str(p)], n)
        yield from (lag, goals)

    def _partitions(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "agentfold_consumer_lag_messages",
            "messages in the partition not folded yet (high watermark - next offset)",
            labels=["partition"],
        )
        offset = GaugeMetricFamily(
            "agentfold_next_offset", "next input offset to fold", labels=["partition"]
        )
        stream = GaugeMetricFamily(
            "agentfold_stream_time_seconds", "the partition's stream time", labels=["partition"]
        )
        behind = GaugeMetricFamily(
            "agentfold_stream_time_lag_seconds",
            "wall clock minus the partition's stream time",
            labels=["partition"],
        )
        executions = GaugeMetricFamily(
            "agentfold_executions", "executions held in state", labels=["partition"]
        )
        actions = GaugeMetricFamily(
            "agentfold_actions_open", "actions begun and not closed yet", labels=["partition"]
        )
        now_ms = self.view.now_ms()
        for p, live in sorted(self.view.lives.items()):
            label = [str(p)]
            state = live.fold.state
            offset.add_metric(label, live.expected)
            high = self.view.highwater(p)
            if high is not None:
                lag.add_metric(label, max(0, high - live.expected))
            if state.meta.stream_ms != NO_TIME:
                stream.add_metric(label, state.meta.stream_ms / 1000)
                behind.add_metric(label, (now_ms - state.meta.stream_ms) / 1000)
            executions.add_metric(label, len(state.execs))
            actions.add_metric(label, len(state.open_actions))
        yield from (lag, offset, stream, behind, executions, actions)


def _labelled(family: CounterMetricFamily, counters: Mapping[str, int], prefix: str) -> Metric:
    for key, value in sorted(counters.items()):
        if key.startswith(prefix):
            family.add_metric([key[len(prefix) :]], value)
    return family


class ExecutorCollector(Collector):
    """The executor's statistics (it keeps them for its summary line anyway)."""

    def __init__(self, stats: ExecutorStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        yield CounterMetricFamily(
            "agentfold_executor_planned", "planned actions consumed", value=s.planned
        )
        yield CounterMetricFamily(
            "agentfold_executor_already_done",
            "plans skipped: this attempt was started (its ledger) or reported before",
            value=s.already_done,
        )
        yield CounterMetricFamily(
            "agentfold_executor_unreported",
            "attempts whose report could not be sent (re-planned at their ack timeout)",
            value=s.unreported,
        )
        attempts = CounterMetricFamily(
            "agentfold_executor_attempts",
            "attempts run and reported, by action type and outcome",
            labels=["action_type", "outcome"],
        )
        for (action_type, outcome), n in sorted(s.attempts.items()):
            attempts.add_metric([action_type, outcome], n)
        yield attempts
        yield GaugeMetricFamily(
            "agentfold_executor_in_flight", "attempts running now", value=s.in_flight
        )


class BridgeCollector(Collector):
    """The OTLP bridge's statistics (streams.otel.bridge)."""

    def __init__(self, stats: BridgeStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        yield CounterMetricFamily(
            "agentfold_bridge_messages", "OTLP messages consumed", value=s.messages
        )
        yield CounterMetricFamily("agentfold_bridge_spans", "spans in them", value=s.spans)
        yield CounterMetricFamily(
            "agentfold_bridge_events", "agentfold events produced from them", value=s.events
        )
        yield CounterMetricFamily(
            "agentfold_bridge_deadletters",
            "messages that were not OTLP (dead-lettered as invalid_otlp)",
            value=s.dead_letters,
        )
        ignored = CounterMetricFamily(
            "agentfold_bridge_ignored", "spans or events left out, by reason", labels=["reason"]
        )
        for reason, n in sorted(s.ignored.items()):
            ignored.add_metric([reason], n)
        yield ignored
