"""Settings of every service and the CLI: the only place that reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
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
    """Where Kafka is; `KAFKA_BOOTSTRAP_SERVERS` points at any broker."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")
    bootstrap_servers: str = "127.0.0.1:19092"
    # Prefixed to every topic name; tests use it to get topics of their own.
    topic_namespace: str = ""
    client_id: str = "finops"


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
