"""Kafka security settings: one block, validated, applied by every client factory and
by the worker's Faust app alike, secrets never shown."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from schemas.errors import ConfigError
from streams.config import load_kafka_security
from streams.kafka import clients

ROOT = Path(__file__).resolve().parents[3]


def sasl(**extra: Any) -> dict[str, str]:
    env = {
        "AGENTFOLD_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "AGENTFOLD_SASL_MECHANISM": "SCRAM-SHA-512",
        "AGENTFOLD_SASL_USERNAME": "svc-agentfold",
        "AGENTFOLD_SASL_PASSWORD": "123",
    }
    env.update(extra)
    return env


def test_from_variables_a_password_stays_text_and_is_never_shown() -> None:
    security = load_kafka_security(None, sasl())
    assert security.password() == "123"  # not the number 123
    assert "123" not in repr(security) and "123" not in str(security.model_dump())
    kwargs = security.client_kwargs()
    assert kwargs == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc-agentfold",
        "sasl_plain_password": "123",
    }


def test_the_file_table_and_a_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    config = tmp_path / "agentfold.toml"
    config.write_text(
        '[kafka]\nsecurity_protocol = "SASL_PLAINTEXT"\nsasl_mechanism = "PLAIN"\n'
        f'sasl_username = "u"\nsasl_password_file = "{secret}"\n'
    )
    security = load_kafka_security(config, {})
    assert security.client_kwargs()["sasl_plain_password"] == "s3cret"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AGENTFOLD_SECURITY_PROTOCOL": "SASL_SSL"}, "needs sasl_mechanism"),
        ({"AGENTFOLD_SASL_MECHANISM": "PLAIN"}, "use SASL_SSL or SASL_PLAINTEXT"),
        (sasl(AGENTFOLD_SASL_PASSWORD_FILE="/nonexistent"), "one of them"),
        ({"AGENTFOLD_SECURITY_PROTOCOL": "TLS"}, "security_protocol"),
        ({"AGENTFOLD_SSL_CAFILE": "/no/such/ca.pem"}, "no such file"),
        (
            {"AGENTFOLD_SECURITY_PROTOCOL": "SASL_SSL", "AGENTFOLD_SASL_MECHANISM": "OAUTHBEARER"},
            "needs sasl_oauth_token_provider",
        ),
    ],
)
def test_inconsistent_settings_say_what_is_missing(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_kafka_security(None, env)


def test_every_factory_and_faust_get_the_same_settings() -> None:
    security = load_kafka_security(None, sasl())
    faust_kwargs = dict(credentials_to_aiokafka_auth(security.faust_credentials()))
    assert faust_kwargs.pop("ssl_context") is None
    assert faust_kwargs == security.client_kwargs()

    async def built() -> list[Any]:
        made = [
            clients.producer("127.0.0.1:1"),
            clients.consumer("127.0.0.1:1"),
            clients.admin("127.0.0.1:1"),
        ]
        found = []
        for client in made:
            inner = getattr(client, "_client", None) or client.client  # type: ignore[attr-defined]
            found.append((inner._security_protocol, inner._sasl_plain_password))
            await (client.stop() if hasattr(client, "stop") else client.close())
        return found

    before = clients.security()
    clients.configure(security)
    try:
        assert asyncio.run(built()) == [("SASL_PLAINTEXT", "123")] * 3
    finally:
        clients.configure(before)


def test_tls_with_a_ca_bundle(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subprocess.run(
        ["openssl", *request, "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"],
        check=True,
        capture_output=True,
    )
    security = load_kafka_security(
        None, {"AGENTFOLD_SECURITY_PROTOCOL": "SSL", "AGENTFOLD_SSL_CAFILE": str(cert)}
    )
    kwargs = security.client_kwargs()
    assert kwargs["security_protocol"] == "SSL"
    assert kwargs["ssl_context"].check_hostname  # verifies the broker, trusting the bundle
    auth = credentials_to_aiokafka_auth(security.faust_credentials())
    assert auth["security_protocol"] == "SSL" and auth["ssl_context"] is not None


def test_a_cli_command_applies_them_and_never_prints_the_secret() -> None:
    env = {**os.environ, **sasl(AGENTFOLD_SASL_PASSWORD="hunter2-secret")}
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "topics", "list", "--broker", "127.0.0.1:1"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert "SASL_PLAINTEXT" in done.stderr  # the hint names the protocol in use
    assert "hunter2" not in done.stdout + done.stderr
    shown = subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker", "--help"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert "hunter2" not in shown.stdout
