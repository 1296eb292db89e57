"""Settings of every service and the CLI: the only place that reads the environment."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "AuthSettings",
    "DevStackSettings",
    "KafkaSettings",
    "PostgresSettings",
    "ServiceSettings",
    "repo_deploy_dir",
]


def repo_deploy_dir() -> Path:
    """deploy/ of a source checkout; an installed copy sets FINOPS_DEPLOY_DIR."""
    return Path(__file__).resolve().parents[3] / "deploy"


class KafkaSettings(BaseSettings):
    """Where Kafka is and how to authenticate to it; `KAFKA_BOOTSTRAP_SERVERS`
    points at any broker. A production deployment sets `KAFKA_SECURITY_PROTOCOL`
    (SASL_SSL), `KAFKA_SASL_MECHANISM` (SCRAM-SHA-512), `KAFKA_SASL_USERNAME`,
    `KAFKA_SASL_PASSWORD` and, for a private CA, `KAFKA_SSL_CAFILE` (mutual TLS:
    `KAFKA_SSL_CERTFILE`, `KAFKA_SSL_KEYFILE`). Every client uses `client_options()`.
    """

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")
    bootstrap_servers: str = "127.0.0.1:19092"
    # Prefixed to every topic name; tests use it to get topics of their own.
    topic_namespace: str = ""
    client_id: str = "finops"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = (
        "PLAINTEXT"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None  # None: the system's CAs
    ssl_certfile: Path | None = None  # a client certificate (mutual TLS)
    ssl_keyfile: Path | None = None

    @property
    def uses_sasl(self) -> bool:
        """Whether clients authenticate with SASL."""
        return self.security_protocol.startswith("SASL")

    @property
    def uses_tls(self) -> bool:
        """Whether connections are encrypted with TLS."""
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of every client (None without TLS)."""
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(
            cafile=str(self.ssl_cafile) if self.ssl_cafile else None
        )
        if self.ssl_certfile is not None:
            context.load_cert_chain(
                str(self.ssl_certfile),
                str(self.ssl_keyfile) if self.ssl_keyfile else None,
            )
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of every aiokafka client for the security settings."""
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return options


class PostgresSettings(BaseSettings):
    """Where PostgreSQL is; `DATABASE_URL` points at any server."""

    model_config = SettingsConfigDict(extra="ignore")
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:15432/finops",
        validation_alias="DATABASE_URL",
    )
    db_schema: str = Field(default="public", validation_alias="DATABASE_SCHEMA")
    min_pool_size: int = 1
    max_pool_size: int = 10
    # SQL migrations live in <deploy_dir>/migrations.
    deploy_dir: Path = Field(
        default_factory=repo_deploy_dir, validation_alias="FINOPS_DEPLOY_DIR"
    )

    @property
    def migrations_dir(self) -> Path:
        """The versioned SQL migrations (NNNN_name.sql)."""
        return self.deploy_dir / "migrations"


class AuthSettings(BaseSettings):
    """Bearer-token checks of every HTTP service (`FINOPS_AUTH_MODE`, ...)."""

    model_config = SettingsConfigDict(env_prefix="FINOPS_AUTH_", extra="ignore")
    # required: every guarded route needs a token with the right scope; open: none
    # is checked (local development only).
    mode: Literal["required", "open"] = "required"
    # A verified token is trusted this long before it is looked up again: a revoked
    # token stops working within this many seconds.
    cache_s: float = Field(default=5.0, ge=0.0)


class ServiceSettings(BaseSettings):
    """What every service needs; each service subclasses it with its own env prefix."""

    model_config = SettingsConfigDict(extra="ignore")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    # On SIGTERM, requests under way get this long to finish (an upload still
    # arriving is then cancelled and leaves nothing), so a service stops within ~10 s.
    shutdown_timeout_s: int = Field(default=6, gt=0)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)


class DevStackSettings(BaseSettings):
    """The local stack of `finops dev up`; state under `.finops/`, jars in a cache."""

    model_config = SettingsConfigDict(env_prefix="FINOPS_", extra="ignore")
    state_dir: Path = Path(".finops")
    cache_dir: Path = Path.home() / ".cache" / "finops"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_heap: str = "512m"
    postgres_port: int = 15432
    service_base_port: int = 8100
    # The Kafka pom.xml (deploy/kafka) and the migrations (deploy/migrations).
    deploy_dir: Path = Field(
        default_factory=repo_deploy_dir, validation_alias="FINOPS_DEPLOY_DIR"
    )
    start_timeout_s: float = 120.0
    # The bearer token commands send to the stack's services (FINOPS_TOKEN); unset:
    # the stack's admin token, <state_dir>/admin.token.
    token: str | None = None
    # When set, the stack uses these servers and starts no Kafka or PostgreSQL.
    external_kafka: str | None = Field(
        default=None, validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    external_database_url: str | None = Field(
        default=None, validation_alias="DATABASE_URL"
    )
