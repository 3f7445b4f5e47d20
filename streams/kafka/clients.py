"""The one place agentfold builds Kafka clients. Every consumer, producer and admin
client of the project comes from here, so that connection settings (and, with them,
the security settings a managed Kafka needs) are applied in exactly one place."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient


def consumer(bootstrap: str, *topics: str, **settings: Any) -> AIOKafkaConsumer:
    """A consumer; without `group_id` it has no group (reads ranges it is assigned).
    Offsets are committed only explicitly unless `enable_auto_commit` says otherwise."""
    settings.setdefault("enable_auto_commit", False)
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, **settings)


def producer(bootstrap: str, **settings: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **settings)


def admin(bootstrap: str, **settings: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, **settings)
