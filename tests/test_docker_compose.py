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


ROOT = COMPOSE.parent


def exported_metric_names() -> set[str]:
    """Every metric name the worker and the executor expose, from their collectors."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from processors.config import FoldConfig
    from streams.folding.partition import LivePartition
    from streams.healing.executor import ExecutorStats
    from streams.ops import ExecutorCollector, WorkerCollector, WorkerView
    from streams.worker.app import flush_histogram

    registry = CollectorRegistry()
    live = LivePartition(FoldConfig(), 0)
    live.fold.state.meta.stream_ms = 1_000  # a partition that has seen events
    counters = {
        "kind.decision": 1,
        "deadletter.invalid_json": 1,
        "out.runs": 1,
        "actions.completed": 1,
    }
    view = WorkerView(counters, {0: live}, lambda p: 10, lambda: 0)
    registry.register(WorkerCollector(view))
    stats = ExecutorStats()
    stats.attempts[("nudge", "success")] += 1
    registry.register(ExecutorCollector(stats))
    flush_histogram(registry)
    text = generate_latest(registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_prometheus_scrapes_every_worker_and_executor_replica() -> None:
    from streams.config import WorkerSettings
    from streams.healing.executor import ExecutorSettings
    from streams.otel.settings import BridgeSettings

    services = load()
    prometheus = services["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    mounted = prometheus["volumes"][0].split(":")[0]
    config = yaml.safe_load((ROOT / mounted).read_text())
    ports = {}
    for job in config["scrape_configs"]:
        (sd,) = job["dns_sd_configs"]
        (name,) = sd["names"]
        assert name in services  # the compose service: its DNS name lists every replica
        ports[name] = sd["port"]
    assert ports == {
        "worker": WorkerSettings.model_fields["web_port"].default,
        "executor": ExecutorSettings(broker="x:1").web_port,
        "bridge": BridgeSettings(broker="x:1").web_port,
    }
    for name, port in ports.items():  # each serves on the port scraped
        run = shlex.split(services[name]["command"][-1].split("&&")[-1])
        assert run[run.index("--web-port") + 1] == str(port)


def test_the_dashboard_queries_only_metrics_the_code_exports() -> None:
    import json
    import re

    grafana = load()["grafana"]
    files = {v.split(":")[1]: ROOT / v.split(":")[0] for v in grafana["volumes"]}
    for source in files.values():
        assert source.exists(), source
    dashboard = json.loads(files["/etc/grafana/dashboards/agentfold.json"].read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"agentfold_[a-z_]+", e)}
    exported = exported_metric_names()
    assert used and used <= exported, used - exported
    provider = yaml.safe_load(
        files["/etc/grafana/provisioning/dashboards/agentfold.yml"].read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"


def test_the_otel_profile_feeds_the_collectors_topic_through_the_bridge() -> None:
    """The Collector writes the topic the bridge reads, on the broker it advertises."""
    services = load()
    internal = listeners(services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"])["INTERNAL"]
    collector, bridge = services["otel-collector"], services["bridge"]
    assert collector["profiles"] == bridge["profiles"] == ["otel"]
    assert {"4317:4317", "4318:4318"} <= set(collector["ports"])
    mounted = collector["volumes"][0].split(":")[0]
    config = yaml.safe_load((ROOT / mounted).read_text())
    kafka = config["exporters"]["kafka"]
    assert kafka["brokers"] == [internal]
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["kafka"]
    run = shlex.split(bridge["command"][-1].split("&&")[-1])
    assert run[:4] == ["exec", "agentfold", "bridge", "otlp"]
    assert run[run.index("--from") + 1] == kafka["topic"]
    assert run[run.index("--broker") + 1] == internal
    assert kafka["encoding"] == "otlp_proto"  # the bridge's default --encoding
