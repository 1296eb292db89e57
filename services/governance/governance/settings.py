"""Settings of the governance service (env prefix GOVERNANCE_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from finops.contracts.settings import ServiceSettings

__all__ = ["GovernanceSettings"]


class GovernanceSettings(ServiceSettings):
    """Loaded once in __main__ and passed down."""

    model_config = SettingsConfigDict(env_prefix="GOVERNANCE_", extra="ignore")
    http_port: int = 8102
