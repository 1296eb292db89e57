"""Ingest deliveries and their outcomes: run results, refused rows, traced lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ingest.formats import IngestFormat

__all__ = ["Delivery", "IngestResult", "RejectRow", "TracedLine"]

Origin = Literal["upload", "drop", "topic", "pull"]
Status = Literal["succeeded", "refused", "failed"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One file to ingest: where it is, what it holds and how to read it."""

    path: Path
    file_name: str
    fmt: IngestFormat
    content_hash: str
    origin: Origin = "upload"
    source: str | None = None
    rules_id: str | None = None
    profile: str | None = None
    # The name as the client sent it, folders included: who states node costs and
    # usage when no source is given (two folders' costs.csv are two sources).
    sent_name: str | None = None

    @property
    def stated_by(self) -> str:
        """The source of node costs and usage: given, else the name as sent."""
        return self.source or self.sent_name or self.file_name


class IngestResult(BaseModel):
    """The outcome of one delivery (the body of POST and GET /ingests)."""

    model_config = ConfigDict(frozen=True)
    ingest_id: UUID
    status: Status
    duplicate: bool = False
    origin: Origin
    format: str
    source: str | None = None
    file_name: str
    content_hash: str
    rules_id: str | None = None
    layout: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    provider_totals: dict[str, Decimal] = {}
    billing_periods: list[date] = []
    # "source period" of each partition this delivery took from another delivery
    # (a restatement: what that delivery said for it is replaced).
    restated: list[str] = []
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None


class RejectRow(BaseModel):
    """One refused row of a delivery."""

    file: str
    line: int | None
    reason: str


class TracedLine(BaseModel):
    """A stored bill line behind a node cost."""

    ingest_id: UUID
    file_name: str
    line: int
    source: str
    provider: str | None
    billing_account_id: str | None
    service_name: str | None
    resource_id: str | None
    charge_period_start: datetime
    charge_period_end: datetime
    cost: Decimal
    node: str
    dimension: str
