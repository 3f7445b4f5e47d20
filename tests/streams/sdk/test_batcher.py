"""Batcher: one execution per message, caps on events and bytes, linger, bounded buffer."""

from __future__ import annotations

import orjson

from streams.sdk.batcher import Batcher


def ev(i: int, pad: int = 0) -> bytes:
    return orjson.dumps({"i": i, "pad": "x" * pad})


def test_events_of_one_execution_share_a_message_after_the_linger() -> None:
    b = Batcher(linger_s=0.02)
    for i in range(3):
        b.add("e1", ev(i), now=0.0)
    b.add("e2", ev(9), now=0.01)
    assert b.take(now=0.015) == []
    first = b.take(now=0.025)
    assert [(m.key, m.events) for m in first] == [("e1", 3)]
    assert [e["i"] for e in orjson.loads(first[0].value)] == [0, 1, 2]
    assert [m.key for m in b.take(now=0.031)] == ["e2"]


def test_a_batch_closes_at_max_events_and_before_passing_max_bytes() -> None:
    b = Batcher(max_events=2, max_bytes=10_000)
    for i in range(5):
        b.add("e", ev(i), now=0)
    assert [m.events for m in b.take(now=0)] == [2, 2]
    big = Batcher(max_bytes=200)
    for i in range(3):
        big.add("e", ev(i, pad=80), now=0)
    messages = big.take(now=0, everything=True)
    assert [m.events for m in messages] == [2, 1]
    assert all(len(m.value) <= 200 for m in messages)


def test_the_buffer_is_bounded_and_counts_what_it_drops() -> None:
    b = Batcher(max_buffered=3)
    assert all(b.add("e", ev(i), now=0) for i in range(3))
    assert not b.add("e", ev(3), now=0)
    assert b.dropped == 1
    messages = b.take(now=0, everything=True)
    b.requeue(messages)  # not delivered: still counted
    assert not b.add("e", ev(4), now=0)
    for m in b.take(now=0, everything=True):
        b.delivered(m)
    assert b.empty and b.add("e", ev(5), now=0)


def test_requeued_messages_keep_their_order() -> None:
    b = Batcher(max_events=1)
    for i in range(3):
        b.add("e", ev(i), now=0)
    messages = b.take(now=0)
    b.requeue(messages[1:])
    assert [orjson.loads(m.value)[0]["i"] for m in b.take(now=0)] == [1, 2]
