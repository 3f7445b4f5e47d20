"""docker-compose.yml, checked without a Docker engine (none runs on our machines):
the services, the ports, and that the worker points at the broker Kafka advertises."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"


def load() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc["services"]


def listeners(value: str) -> dict[str, str]:
    """ "NAME://host:port,…" → {NAME: "host:port"}."""
    return dict(item.split("://", 1) for item in value.split(","))  # type: ignore[misc]


def test_kafka_is_single_node_kraft_from_the_official_image() -> None:
    kafka = load()["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in k for k in env)
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1
    assert "healthcheck" in kafka


def test_the_host_port_is_the_advertised_external_listener() -> None:
    kafka = load()["kafka"]
    advertised = listeners(kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"])
    published = {p.split(":")[0] for p in kafka["ports"]}
    host, port = advertised["EXTERNAL"].split(":")
    assert host == "localhost" and port in published


def test_the_worker_uses_the_broker_kafka_advertises_inside_the_network() -> None:
    services = load()
    kafka, worker = services["kafka"], services["worker"]
    internal = listeners(kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"])["INTERNAL"]
    assert internal.split(":")[0] in {"kafka", kafka.get("hostname")}
    script = worker["command"][-1]
    steps = [shlex.split(step) for step in script.split("&&")]
    create = next(s for s in steps if s[:3] == ["agentfold", "topics", "create"])
    run = next(s for s in steps if s[:2] == ["exec", "agentfold"] and "worker" in s)
    assert steps.index(create) < steps.index(run)  # topics exist before the worker starts
    for step in (create, run):
        assert step[step.index("--broker") + 1] == internal
    assert worker["environment"]["AGENTFOLD_BROKER"] == internal
    assert run[run.index("--partitions") + 1] == worker["environment"]["AGENTFOLD_PARTITIONS"]
    assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert worker["environment"]["AGENTFOLD_PROCESSING_GUARANTEE"] in {
        "at_least_once",
        "exactly_once",
    }


def test_executor_and_demo_are_opt_in_profiles_on_the_same_broker() -> None:
    services = load()
    internal = listeners(services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"])["INTERNAL"]
    assert "profiles" not in services["kafka"] and "profiles" not in services["worker"]
    for name, command in (("executor", "executor"), ("demo", "demo")):
        service = services[name]
        assert service["profiles"] == [name]  # not started by a plain `docker compose up`
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        steps = [shlex.split(step) for step in service["command"][-1].split("&&")]
        run = next(s for s in steps if s[:2] == ["exec", "agentfold"])
        assert run[2] == command
        assert run[run.index("--broker") + 1] == internal
