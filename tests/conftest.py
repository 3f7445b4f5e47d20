"""Shared fixtures. Broker-backed tests share one embedded broker per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import streams  # first: the compiled fold, when built, is what every test then runs
from streams.broker import EmbeddedBroker


def pytest_report_header() -> str:
    return f"agentfold fold: {streams.NATIVE_STATUS}"


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """Bootstrap address of a real Kafka-compatible broker process (Tansu, in memory)."""
    with EmbeddedBroker() as bootstrap:
        yield bootstrap
