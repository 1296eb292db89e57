"""Settings of the ingest service (env prefix INGEST_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from finops.contracts.settings import ServiceSettings
from ingest.limits import InputLimits

__all__ = ["IngestSettings"]


class IngestSettings(ServiceSettings):
    """Loaded once in __main__ and passed down."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")
    http_port: int = 8100
    # The local stack's state folder; the spool and drop folders default to under it.
    state_dir: Path = Field(
        default=Path(".finops"), validation_alias="FINOPS_STATE_DIR"
    )
    # Uploads are streamed here before they are read in batches.
    spool_dir: Path | None = None
    # Watched folder: files dropped here are ingested, then moved to done/ or failed/.
    drop_dir: Path | None = None
    drop_poll_s: float = 1.0
    drop_source: str | None = None  # restatement source of dropped files
    drop_rules: Path | None = None  # mapping rules of dropped FOCUS files
    # Rules for lines outside producers write to the cost-lines topic.
    topic_rules: Path | None = None
    consume_cost_lines: bool = True
    consumer_group: str = "finops-ingest"
    # /healthz answers 503 when the cost-lines consumer has not advanced for this long
    # while messages wait, or its handler has failed that long.
    stall_s: float = 60.0
    # Pending outbox entries (events a broker failure held back) are sent again this
    # often; each delivery also sends them as it ends.
    outbox_every_s: float = 5.0
    # What one delivery may cost (0: no limit): an upload body past max_body_bytes is a
    # 413; a gzip file expanding past max_expanded_bytes, or more than max_gzip_ratio
    # times its size, is refused (422) before it is read.
    max_body_bytes: int = 20 * 1024**3
    max_expanded_bytes: int = 200 * 1024**3
    max_gzip_ratio: float = 100.0

    def limits(self) -> InputLimits:
        """The delivery limits above."""
        return InputLimits(
            self.max_body_bytes, self.max_expanded_bytes, self.max_gzip_ratio
        )

    # Usage pulled from Prometheus: a YAML file of pulls (docs/ingest.md), if any.
    pulls: Path | None = None
    # Node costs (or usage figures) per event; events are keyed by charge date.
    event_batch: int = 5000

    @property
    def spool_folder(self) -> Path:
        """Where uploads are spooled (INGEST_SPOOL_DIR, else under the state folder)."""
        return self.spool_dir or self.state_dir / "ingest" / "spool"

    @property
    def drop_folder(self) -> Path:
        """The watched folder (INGEST_DROP_DIR, else under the state folder)."""
        return self.drop_dir or self.state_dir / "ingest" / "drop"
