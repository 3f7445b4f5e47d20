"""Shared fixtures. Broker-backed tests share one embedded broker per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """Bootstrap address of a real Kafka-compatible broker process (Tansu, in memory)."""
    with EmbeddedBroker() as bootstrap:
        yield bootstrap
