"""The one place agentfold builds Kafka clients. Every consumer, producer and admin
client of the project comes from here, so that connection settings (and, with them,
the security settings a managed Kafka needs) are applied in exactly one place."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError

from schemas.errors import AgentfoldError
from streams.kafka.security import KafkaSecurity


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


CLOSE_WAIT_S = 2.0  # how long closing a client may wait when the process is stopping
_security = KafkaSecurity()
_auth: dict[str, Any] = {}  # its client keyword arguments (the TLS context built once)


def configure(security: KafkaSecurity) -> None:
    """The security every client built from now on uses (a command sets it once, from
    AGENTFOLD_* variables and the [kafka] table of its --config)."""
    global _security, _auth
    _security, _auth = security, security.client_kwargs()


def security() -> KafkaSecurity:
    return _security


def _with_auth(settings: dict[str, Any], given: KafkaSecurity | None) -> dict[str, Any]:
    auth = _auth if given is None else given.client_kwargs()
    return {**auth, **settings}


def consumer(
    bootstrap: str, *topics: str, security: KafkaSecurity | None = None, **settings: Any
) -> AIOKafkaConsumer:
    """A consumer; without `group_id` it has no group (reads ranges it is assigned).
    Offsets are committed only explicitly unless `enable_auto_commit` says otherwise."""
    settings.setdefault("enable_auto_commit", False)
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, **_with_auth(settings, security))


def producer(
    bootstrap: str, security: KafkaSecurity | None = None, **settings: Any
) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **_with_auth(settings, security))


def admin(
    bootstrap: str, security: KafkaSecurity | None = None, **settings: Any
) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, **_with_auth(settings, security))


async def start(client: Any, bootstrap: str) -> None:
    """Start a client built here; when no broker answers, close it again (no "Unclosed"
    warning at exit) and raise BrokerUnreachable with what to try."""
    try:
        await client.start()
    except asyncio.CancelledError:  # stopped while connecting: leave nothing open
        await close(client, CLOSE_WAIT_S)
        raise
    except KafkaConnectionError:
        await close(client)
        protocol = _security.security_protocol
        hint = (
            ""
            if protocol == "PLAINTEXT"
            else f"; or the broker's listener does not speak {protocol} with these "
            "credentials (AGENTFOLD_SECURITY_PROTOCOL, AGENTFOLD_SASL_*, AGENTFOLD_SSL_*)"
        )
        raise BrokerUnreachable(
            f"no Kafka broker answers at {bootstrap}: pass --broker HOST:PORT or set "
            f"AGENTFOLD_BROKER (`agentfold broker` starts an embedded one){hint}"
        ) from None


async def close(client: Any, timeout_s: float | None = None) -> bool:
    """Close a client built here — and finish closing it when the task is cancelled
    meanwhile. A stop signal cancels tasks that may already be closing their clients;
    a close cut short leaves a connection open (the broker waits for it on its own
    shutdown) and an "Unclosed …" warning at exit. After a cancellation the close gets
    CLOSE_WAIT_S more, then the cancellation goes on. `timeout_s` bounds the whole
    close (a consumer leaving its group waits for a join the broker may hold). False:
    given up, the client left as it was."""
    loop = asyncio.get_running_loop()
    stop = getattr(client, "stop", None) or client.close
    closing = asyncio.ensure_future(stop())
    deadline = None if timeout_s is None else loop.time() + timeout_s
    cancelled = given_up = False
    while not closing.done():
        try:
            if deadline is None:
                await asyncio.shield(closing)
            else:
                await asyncio.wait_for(asyncio.shield(closing), max(0.0, deadline - loop.time()))
        except asyncio.CancelledError:
            if not cancelled:
                cancelled = True
                grace = loop.time() + CLOSE_WAIT_S
                deadline = grace if deadline is None else min(deadline, grace)
        except TimeoutError:
            closing.cancel()
            given_up = True
            break
    if cancelled:
        raise asyncio.CancelledError
    return not given_up
