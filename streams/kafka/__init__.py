"""Kafka: the embedded broker, the topics (the only place a topic name is formed), the
client factory (the only place clients are built), reading and writing topics, and
Kafka's default partitioner."""

from streams.kafka import clients
from streams.kafka.broker import BrokerUnavailable, EmbeddedBroker
from streams.kafka.partitioner import partition_for
from streams.kafka.topicio import (
    Record,
    committed_offsets,
    end_offsets,
    fetch_range,
    group_positions,
    iter_range,
    produce_lines,
    read_topic,
    wait_caught_up,
)
from streams.kafka.topics import SPECS, TopicSpec, create_topics, list_topics, topic_name

__all__ = [
    "SPECS",
    "BrokerUnavailable",
    "EmbeddedBroker",
    "Record",
    "TopicSpec",
    "clients",
    "committed_offsets",
    "create_topics",
    "end_offsets",
    "fetch_range",
    "group_positions",
    "iter_range",
    "list_topics",
    "partition_for",
    "produce_lines",
    "read_topic",
    "topic_name",
    "wait_caught_up",
]
