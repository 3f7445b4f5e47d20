"""The one place agentfold builds Kafka clients. Every consumer, producer and admin
client of the project comes from here, so that connection settings (and, with them,
the security settings a managed Kafka needs) are applied in exactly one place."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError

from schemas.errors import AgentfoldError


class BrokerUnreachable(AgentfoldError):
    """No Kafka broker answered at the address given. Check `--broker HOST:PORT` (or
    AGENTFOLD_BROKER); `agentfold broker` starts an embedded one for trying things out."""


def bootstrap_problem(address: str) -> str | None:
    """What is wrong with a bootstrap list ("host:port,host:port"), or None."""
    for entry in address.split(","):
        host, sep, port = entry.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            return (
                f"broker address {entry.strip()!r} is not a host and a port number "
                "(e.g. localhost:9092; several: a:9092,b:9092)"
            )
    return None


def consumer(bootstrap: str, *topics: str, **settings: Any) -> AIOKafkaConsumer:
    """A consumer; without `group_id` it has no group (reads ranges it is assigned).
    Offsets are committed only explicitly unless `enable_auto_commit` says otherwise."""
    settings.setdefault("enable_auto_commit", False)
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, **settings)


def producer(bootstrap: str, **settings: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **settings)


def admin(bootstrap: str, **settings: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, **settings)


async def start(client: Any, bootstrap: str) -> None:
    """Start a client built here; when no broker answers, close it again (no "Unclosed"
    warning at exit) and raise BrokerUnreachable with what to try."""
    try:
        await client.start()
    except KafkaConnectionError:
        close = getattr(client, "stop", None) or client.close
        await close()
        raise BrokerUnreachable(
            f"no Kafka broker answers at {bootstrap}: pass --broker HOST:PORT or set "
            "AGENTFOLD_BROKER (`agentfold broker` starts an embedded one)"
        ) from None
