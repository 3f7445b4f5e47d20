"""Shared fixtures. Broker-backed tests share one embedded broker per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.native import activate

# The test session is an entry point: the compiled fold, when built, is what every
# test then runs (it must be put in place before anything imports the fold).
NATIVE_STATUS = activate()

from streams.kafka.broker import EmbeddedBroker  # noqa: E402


def pytest_report_header() -> str:
    return f"agentfold fold: {NATIVE_STATUS}"


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """Bootstrap address of a real Kafka-compatible broker process (Tansu, in memory)."""
    with EmbeddedBroker() as bootstrap:
        yield bootstrap
