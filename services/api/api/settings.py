"""Settings of the api service (env prefix API_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from finops.contracts.settings import ServiceSettings

__all__ = ["ApiSettings"]


class ApiSettings(ServiceSettings):
    """Loaded once in __main__ and passed down."""

    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore")
    http_port: int = 8103
    # The currency every stored amount is in (the platform converts nothing).
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    # Origins allowed by CORS; empty: CORS is off.
    cors_origins: list[str] = Field(default_factory=list)
    # Answers kept per data version (decision record 0170).
    cache_entries: int = Field(default=512, ge=0)
    # The widest window a request may ask for, in days.
    max_window_days: int = Field(default=1100, ge=1)
    # The largest request body (graph and governance files), in bytes.
    max_body_bytes: int = Field(default=64 << 20, ge=1024)
    # The read-only query pool logs in with this URL when set (a role that may only
    # SELECT, e.g. finops_api_reader of migration 0020); else with DATABASE_URL.
    read_database_url: str | None = None
    # Connections of the read-only query pool.
    query_pool_size: int = Field(default=8, ge=1)
