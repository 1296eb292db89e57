"""Settings of the ingest service (env prefix INGEST_)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from finops.settings import ServiceSettings

__all__ = ["IngestSettings"]


class IngestSettings(ServiceSettings):
    """Loaded once in __main__ and passed down."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")
    http_port: int = 8100
    # Uploads are streamed here before they are read in batches.
    spool_dir: Path = Path(".finops/ingest/spool")
    # Watched folder: files dropped here are ingested, then moved to done/ or failed/.
    drop_dir: Path = Path(".finops/ingest/drop")
    drop_poll_s: float = 1.0
    drop_source: str | None = None  # restatement source of dropped files
    drop_rules: Path | None = None  # mapping rules of dropped FOCUS files
    # Rules for lines outside producers write to the cost-lines topic.
    topic_rules: Path | None = None
    consume_cost_lines: bool = True
    consumer_group: str = "finops-ingest"
    # Node costs (or usage figures) per event; events are keyed by charge date.
    event_batch: int = 5000
