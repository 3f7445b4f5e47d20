"""How agentfold's Kafka clients authenticate and encrypt: one settings block for all.

Every client of the project — worker (Faust), executor, SDK, replay, tail, produce,
topics, status — takes its security from one `KafkaSecurity`, read from
`AGENTFOLD_KAFKA_*` variables or the `[kafka]` table of `--config` (the SDK: the
variables, or `Recorder(security=…)`). Secrets are `SecretStr`: they never appear in a
repr, a log line, `--help` or `agentfold config --show`; a password can come from a
file (`sasl_password_file`, e.g. a mounted Kubernetes secret) instead of a variable.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


class KafkaSecurity(BaseModel):
    """Security settings of every Kafka client (docs/operations.md, "Kafka security")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    security_protocol: Protocol = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    sasl_mechanism: Mechanism | None = Field(
        default=None, description="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
    )
    sasl_username: str | None = Field(default=None, description="SASL user (PLAIN, SCRAM)")
    sasl_password: SecretStr | None = Field(
        default=None, description="SASL password (PLAIN, SCRAM); never shown"
    )
    sasl_password_file: Path | None = Field(
        default=None, description="file holding the SASL password (instead of sasl_password)"
    )
    sasl_oauth_token_provider: str | None = Field(
        default=None,
        description="OAUTHBEARER: MODULE:ATTR of an aiokafka AbstractTokenProvider "
        "(an instance, or a class or function that returns one)",
    )
    ssl_cafile: Path | None = Field(default=None, description="CA bundle to trust (TLS)")
    ssl_certfile: Path | None = Field(default=None, description="client certificate (mTLS)")
    ssl_keyfile: Path | None = Field(default=None, description="client key (mTLS)")
    ssl_key_password: SecretStr | None = Field(
        default=None, description="password of the client key; never shown"
    )

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSecurity:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and self.sasl_mechanism is None:
            raise ValueError(f"security_protocol {self.security_protocol} needs sasl_mechanism")
        if not sasl and self.sasl_mechanism is not None:
            raise ValueError(
                f"sasl_mechanism is set but security_protocol is {self.security_protocol} "
                "(use SASL_SSL or SASL_PLAINTEXT)"
            )
        if self.sasl_mechanism == "OAUTHBEARER":
            if self.sasl_oauth_token_provider is None:
                raise ValueError("sasl_mechanism OAUTHBEARER needs sasl_oauth_token_provider")
        elif sasl:
            if self.sasl_username is None:
                raise ValueError(f"sasl_mechanism {self.sasl_mechanism} needs sasl_username")
            if (self.sasl_password is None) == (self.sasl_password_file is None):
                raise ValueError(
                    f"sasl_mechanism {self.sasl_mechanism} needs sasl_password or "
                    "sasl_password_file (one of them)"
                )
        for name in ("sasl_password_file", "ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file: {path}")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together (mutual TLS)")
        return self

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def password(self) -> str | None:
        if self.sasl_password_file is not None:
            return self.sasl_password_file.read_text().strip()
        return self.sasl_password.get_secret_value() if self.sasl_password else None

    def ssl_context(self) -> Any:
        """The TLS context (None without TLS): the system's trust store unless
        ssl_cafile says otherwise, plus the client certificate for mutual TLS."""
        if not self.tls:
            return None
        from aiokafka.helpers import create_ssl_context

        key_password = self.ssl_key_password.get_secret_value() if self.ssl_key_password else None
        return create_ssl_context(
            cafile=str(self.ssl_cafile) if self.ssl_cafile else None,
            certfile=str(self.ssl_certfile) if self.ssl_certfile else None,
            keyfile=str(self.ssl_keyfile) if self.ssl_keyfile else None,
            password=key_password,
        )

    def token_provider(self) -> Any:
        target = self.sasl_oauth_token_provider
        if target is None:
            return None
        module, _, attr = target.partition(":")
        found = getattr(importlib.import_module(module), attr)
        return found() if callable(found) and not hasattr(found, "token") else found

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's consumer, producer and admin client."""
        if self.security_protocol == "PLAINTEXT":
            return {}
        kwargs: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.tls:
            kwargs["ssl_context"] = self.ssl_context()
        if self.sasl_mechanism is not None:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            if self.sasl_mechanism == "OAUTHBEARER":
                kwargs["sasl_oauth_token_provider"] = self.token_provider()
            else:
                kwargs["sasl_plain_username"] = self.sasl_username
                kwargs["sasl_plain_password"] = self.password()
        return kwargs

    def faust_credentials(self) -> Any:
        """Faust's `broker_credentials` for the same settings (None: plaintext)."""
        if self.security_protocol == "PLAINTEXT":
            return None
        import faust

        context = self.ssl_context()
        if self.sasl_mechanism is None:
            return faust.SSLCredentials(context)
        if self.sasl_mechanism == "OAUTHBEARER":
            return faust.OAuthCredentials(oauth_cb=self.token_provider(), ssl_context=context)
        return faust.SASLCredentials(
            username=self.sasl_username,
            password=self.password(),
            ssl_context=context,
            mechanism=self.sasl_mechanism,
        )
