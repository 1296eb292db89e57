"""Settings of the ingest service (env prefix INGEST_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from finops.settings import ServiceSettings

__all__ = ["IngestSettings"]


class IngestSettings(ServiceSettings):
    """Loaded once in __main__ and passed down."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")
    http_port: int = 8100
