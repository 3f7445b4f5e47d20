"""The Kafka client's retry logging is rate-limited: the first of each kind through,
then one per back-off step with how many were held back."""

from __future__ import annotations

import itertools
import logging

import pytest

from streams.kafka.logs import CLIENT_LOGGERS, RateLimit, quiet_retries


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(msg: str = "Unable connect to %r: %s", level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("aiokafka", level, __file__, 1, msg, ("node", "refused"), None)


def test_one_line_per_back_off_step() -> None:
    clock = Clock()
    limit = RateLimit(clock)
    passed = []
    for tick in range(0, 6000):  # 60 retries a second for 100 s
        clock.now = tick / 60
        record = _record()
        if limit.filter(record):
            passed.append((clock.now, record.getMessage()))
    assert passed[0] == (0.0, "Unable connect to 'node': refused")
    times = [t for t, _ in passed]
    gaps = [round(b - a) for a, b in itertools.pairwise(times)]
    assert gaps[:6] == [1, 2, 4, 8, 16, 32] and set(gaps[6:]) <= {60}
    assert "(59 more like it held back)" in passed[1][1]
    assert len(passed) < 12  # not 6,000


def test_kinds_are_limited_apart_and_a_quiet_kind_starts_over() -> None:
    clock = Clock()
    limit = RateLimit(clock)
    assert limit.filter(_record("a %s %s")) and limit.filter(_record("b %s %s"))
    assert not limit.filter(_record("a %s %s"))
    clock.now = 5.0
    assert limit.filter(_record("a %s %s"))  # held back one: the step doubles to 2 s
    clock.now = 7.5
    assert limit.filter(_record("a %s %s"))  # nothing held back since: back to 1 s
    clock.now = 8.0
    assert not limit.filter(_record("a %s %s"))


def test_debug_output_is_left_alone() -> None:
    limit = RateLimit(Clock())
    assert all(limit.filter(_record(level=logging.DEBUG)) for _ in range(100))


def test_installed_on_every_client_logger(caplog: pytest.LogCaptureFixture) -> None:
    installed = quiet_retries()
    assert quiet_retries() is installed
    for name in CLIENT_LOGGERS:
        assert installed in logging.getLogger(name).filters
