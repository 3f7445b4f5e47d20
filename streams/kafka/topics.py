"""The topics of docs/design.md, created with every config spelled out (Tansu reports only
configs set explicitly at creation). Creating is idempotent."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas.outputs import (
    ATTRIBUTION,
    DEADLETTER,
    EXECUTOR_LEDGER,
    GOAL_FACTS,
    GOALS,
    HEALING,
    RUNS,
    STAGNATION,
    TELEMETRY,
)
from streams.kafka import clients

WEEK_MS = 7 * 24 * 3600 * 1000


def topic_name(prefix: str, logical: str) -> str:
    """The Kafka name of a logical topic ("telemetry", "runs", …) under a prefix: the
    only place a topic name is formed."""
    return f"{prefix}.{logical}"


@dataclass(frozen=True)
class TopicSpec:
    logical: str
    cleanup: str
    retention_ms: int  # -1: keep forever (the telemetry log is the source of truth)

    def name(self, prefix: str) -> str:
        return topic_name(prefix, self.logical)

    def configs(self) -> dict[str, str]:
        return {"cleanup.policy": self.cleanup, "retention.ms": str(self.retention_ms)}


SPECS: tuple[TopicSpec, ...] = (
    TopicSpec(TELEMETRY, "delete", -1),
    TopicSpec(RUNS, "compact", -1),
    TopicSpec(STAGNATION, "delete", WEEK_MS),
    TopicSpec(HEALING, "delete", WEEK_MS),
    TopicSpec(ATTRIBUTION, "delete", WEEK_MS),
    TopicSpec(DEADLETTER, "delete", 4 * WEEK_MS),
    # Derived from the telemetry (a replay rebuilds it), kept as long as it.
    TopicSpec(GOAL_FACTS, "delete", -1),
    # The latest record per goal is the goal's progress.
    TopicSpec(GOALS, "compact", -1),
    # Kept as long as the plans it answers for: a retained plan's ledger record is too.
    TopicSpec(EXECUTOR_LEDGER, "delete", WEEK_MS),
)


def new_topics(
    prefix: str,
    partitions: int,
    replication: int = 1,
    min_insync: int | None = None,
    only: Collection[str] | None = None,
) -> list[NewTopic]:
    """The topics to create, each with its configs spelled out; `min_insync` sets
    min.insync.replicas (with acks=all, the replicas a write needs: durability)."""
    extra = {} if min_insync is None else {"min.insync.replicas": str(min_insync)}
    return [
        NewTopic(spec.name(prefix), partitions, replication, topic_configs=spec.configs() | extra)
        for spec in SPECS
        if only is None or spec.logical in only
    ]


async def create_topics(
    bootstrap: str,
    prefix: str,
    partitions: int,
    only: Collection[str] | None = None,
    *,
    replication: int = 1,
    min_insync: int | None = None,
) -> list[str]:
    """Create the missing topics (or those of them named in `only`, by logical name);
    returns the names created now."""
    admin = clients.admin(bootstrap)
    await clients.start(admin, bootstrap)
    try:
        existing = set(await admin.list_topics())
        wanted = [
            topic
            for topic in new_topics(prefix, partitions, replication, min_insync, only)
            if topic.name not in existing
        ]
        created = []
        for topic in wanted:
            try:
                await admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass  # a concurrent creator won; that is fine
        return created
    finally:
        await admin.close()


async def list_topics(bootstrap: str, prefix: str) -> dict[str, int]:
    """agentfold topics present on the broker, with their partition counts."""
    admin = clients.admin(bootstrap)
    await clients.start(admin, bootstrap)
    try:
        names = sorted(t for t in await admin.list_topics() if t.startswith(prefix + "."))
        described = await admin.describe_topics(names) if names else []
        return {d["topic"]: len(d["partitions"]) for d in described}
    finally:
        await admin.close()


async def ensure_topic(
    bootstrap: str, name: str, partitions: int, configs: dict[str, str] | None = None
) -> bool:
    """Create one topic outside agentfold's own set (a bridge's source) if it is
    missing; True when it was created now."""
    admin = clients.admin(bootstrap)
    await clients.start(admin, bootstrap)
    try:
        if name in set(await admin.list_topics()):
            return False
        try:
            await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})])
        except TopicAlreadyExistsError:
            return False  # a concurrent creator won
        return True
    finally:
        await admin.close()
