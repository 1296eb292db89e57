"""Settings of the api service (env prefix API_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from finops.contracts.settings import ServiceSettings

__all__ = ["ApiSettings"]


class ApiSettings(ServiceSettings):
    """Loaded once in __main__ and passed down."""

    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore")
    http_port: int = 8103
