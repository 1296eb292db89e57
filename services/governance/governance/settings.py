"""Settings of the governance service (env prefix GOVERNANCE_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from finops.contracts.settings import ServiceSettings

__all__ = ["GovernanceSettings"]


class GovernanceSettings(ServiceSettings):
    """Loaded once in __main__ and passed down."""

    model_config = SettingsConfigDict(env_prefix="GOVERNANCE_", extra="ignore")
    http_port: int = 8102
    consumer_group: str = "governance"
    # Webhook and executor targets on loopback or private addresses are refused unless
    # allowed (`finops dev up` allows loopback).
    allow_loopback_targets: bool = False
    allow_private_targets: bool = False
    attempt_timeout_s: float = Field(default=10.0, gt=0, le=300)
    # Multiplies the retry schedule (1.0: 5 s ... 8 h); tests and demos shrink it.
    backoff_scale: float = Field(default=1.0, gt=0, le=10)
    delivery_poll_s: float = Field(default=0.2, gt=0)
    config_poll_s: float = Field(default=1.0, gt=0)
    # Events arriving within this time are evaluated in one pass.
    evaluate_debounce_s: float = Field(default=0.05, ge=0)
    forecast_window_days: int = Field(default=7, ge=1, le=366)
    stall_s: float = Field(default=60.0, gt=0)
