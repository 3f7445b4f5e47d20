"""Clients closing while their task is cancelled, against the real broker process."""

from __future__ import annotations

import asyncio

import pytest

from streams.kafka import clients
from streams.kafka.topics import create_topics
from tests.streams.livelog import namespace

pytestmark = pytest.mark.broker


async def _cancelled_twice_while_closing(broker: str, close_with_clients: bool) -> bool:
    """A producer with records in flight, closed by a task that is cancelled twice
    (a stop signal, then asyncio.run's cancel-all): are its connections all closed?"""
    ns = namespace()
    await create_topics(broker, ns, 2)
    producer = clients.producer(broker, linger_ms=200)
    await clients.start(producer, broker)
    for i in range(50):
        await producer.send(f"{ns}.telemetry", b"x" * 100, key=str(i).encode())
    closing = asyncio.ensure_future(
        clients.close(producer) if close_with_clients else producer.stop()
    )
    await asyncio.sleep(0)  # the close has begun: its flush waits for the linger
    closing.cancel()
    await asyncio.sleep(0.01)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    await asyncio.sleep(0.3)  # anything still winding down would do it now
    open_connections = any(conn.connected() for conn in producer.client._conns.values())
    if open_connections:  # leave the broker as the other tests expect it
        await producer.client.close()
    return not open_connections


def test_a_close_survives_the_cancellations_of_a_stop(broker: str) -> None:
    assert asyncio.run(_cancelled_twice_while_closing(broker, close_with_clients=True))


def test_without_it_the_cancellations_leave_a_connection_open(broker: str) -> None:
    """The failure `clients.close` exists for (if aiokafka fixes it, this test says so)."""
    assert not asyncio.run(_cancelled_twice_while_closing(broker, close_with_clients=False))


def test_a_close_gives_up_after_its_timeout() -> None:
    class Hanging:
        async def stop(self) -> None:
            await asyncio.sleep(60)

    async def run() -> tuple[bool, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        closed = await clients.close(Hanging(), timeout_s=0.2)
        return closed, loop.time() - started

    closed, seconds = asyncio.run(run())
    assert not closed and seconds < 5
