"""Settings of the allocator service (env prefix ALLOCATOR_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from finops.settings import ServiceSettings

__all__ = ["AllocatorSettings"]


class AllocatorSettings(ServiceSettings):
    """Loaded once in __main__ and passed down."""

    model_config = SettingsConfigDict(env_prefix="ALLOCATOR_", extra="ignore")
    http_port: int = 8101
    app_id: str = (
        "finops-allocator"  # the consumer group; the topic namespace prefixes it
    )
    snapshot_days: int = 32  # dates whose last results are kept to write only changes
    session_timeout_s: float = 10.0  # a dead worker's partitions move after this
    data_dir: str = ""  # Faust's data directory; empty: under the system temp directory
