"""What a delivery states per (source, billing period), replaced whole at once."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from finops.domain.focus.aggregate import round_provider_totals
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.normalize import NormalizedBatch
from finops.domain.focus.restatement import PartitionKey
from finops.domain.money import from_micros
from finops.domain.records import UsageRecord
from finops.domain.yamltext import load_yaml
from finops.errors import ConfigError
from ingest.models import IngestResult
from ingest.ports import Writer

__all__ = [
    "CostDelivery",
    "UsageStored",
    "costs_by_partition",
    "delivery_key",
    "month_start",
    "parse_rules",
    "replace_run",
    "statement_source",
    "store_usage",
    "usage_by_partition",
]


def delivery_key(
    content_hash: str,
    *,
    fmt: str,
    source: str | None,
    rules_id: str | None,
    profile: str | None = None,
) -> str:
    """Identity of a delivery: the same bytes read the same way give the same key."""
    parts = (content_hash, fmt, source or "", rules_id or "", profile or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def month_start(day: date) -> date:
    """The first day of a day's month (lines are stored by billing month)."""
    return day.replace(day=1)


def statement_source(key: PartitionKey) -> str:
    """The node-cost source of one (source, billing period): replaced as one unit."""
    source, period = key
    return f"{source}/{period.isoformat()}"


def costs_by_partition(batch: NormalizedBatch) -> dict[PartitionKey, pa.Table]:
    """Exact node costs of a batch's lines (not rounded yet: the store adds them up
    and rounds each node, day and dimension once), per (source, billing period)."""
    if batch.lines is None or not batch.partitions:
        return {}
    units = batch.unit_costs
    if len(batch.partitions) == 1:
        return {next(iter(batch.partitions)): units}
    found = {}
    for key in batch.partitions:
        mask = pc.and_(
            pc.equal(units["source"], key[0]), pc.equal(units["period"], key[1])
        )
        found[key] = units.filter(mask)
    return found


def usage_by_partition(
    records: Iterable[UsageRecord], source: str
) -> dict[PartitionKey, list[UsageRecord]]:
    """Usage records grouped by (source, month): the unit a re-delivery replaces."""
    found: dict[PartitionKey, list[UsageRecord]] = {}
    for record in records:
        found.setdefault((source, month_start(record.date)), []).append(record)
    return found


@dataclass
class CostDelivery:
    """What a delivery did so far; `touched`: dates to republish per source key."""

    run: IngestResult
    holder_key: str  # names the delivery that states the partitions it replaces
    rows_read: int = 0
    rejected: int = 0
    layout: str | None = None
    totals: dict[str, int] = field(default_factory=dict)
    picos: dict[str, int] = field(default_factory=dict)  # rounded off, per provider
    partitions: set[PartitionKey] = field(default_factory=set)
    touched: dict[str, set[date]] = field(default_factory=dict)
    restated: list[str] = field(default_factory=list)  # "source period" taken over

    async def apply(self, writer: Writer, batch: NormalizedBatch) -> None:
        """Store one batch; a partition another delivery states is first cleared."""
        await writer.ensure_months({month_start(p) for _, p in batch.partitions})
        for key in sorted(batch.partitions - self.partitions):
            await self._take(writer, key)
        if batch.lines is not None and batch.lines.num_rows:
            await writer.copy_lines(self.run.ingest_id, batch.lines)
        for key, costs in costs_by_partition(batch).items():
            await writer.add_node_costs(statement_source(key), costs)
            self._touch(statement_source(key), costs["date"].to_pylist())
        rejects = [r._replace(file=self.run.file_name) for r in batch.rejects]
        await writer.add_rejects(self.run.ingest_id, rejects, self.rejected)
        self._count(batch)

    async def _take(self, writer: Writer, key: PartitionKey) -> None:
        """Hold a partition; what another delivery said for it is deleted first.

        The holder itself appends (a producer's delivery spread over many messages).
        """
        self.partitions.add(key)
        held = await writer.held_partition("cost", key)
        if held == self.holder_key:
            return
        if held is not None:
            old = await writer.clear_cost_partition(key, statement_source(key))
            self._touch(statement_source(key), old)
            self.restated.append(f"{key[0]} {key[1].isoformat()}")
        await writer.hold_partition("cost", key, self.holder_key, self.run.ingest_id)

    def _touch(self, source_key: str, dates: Iterable[date]) -> None:
        self.touched.setdefault(source_key, set()).update(dates)

    def _count(self, batch: NormalizedBatch) -> None:
        self.rows_read += batch.rows_read
        self.rejected += len(batch.rejects)
        self.layout = self.layout or batch.layout
        for provider, micros in batch.provider_totals.items():
            self.totals[provider] = self.totals.get(provider, 0) + micros
        for provider, picos in batch.provider_picos.items():
            self.picos[provider] = self.picos.get(provider, 0) + picos

    def result(self, finished_at: datetime) -> IngestResult:
        """The run with its final counts."""
        exact = round_provider_totals(self.totals, self.picos)
        totals: dict[str, Decimal] = {
            k: from_micros(v) for k, v in sorted(exact.items())
        }
        return replace_run(
            self.run,
            layout=self.layout,
            rows_read=self.rows_read,
            rows_accepted=self.rows_read - self.rejected,
            rows_rejected=self.rejected,
            provider_totals=totals,
            billing_periods=sorted({p for _, p in self.partitions}),
            restated=sorted(self.restated),
            finished_at=finished_at,
        )


def replace_run(run: IngestResult, **changes: object) -> IngestResult:
    """A copy of a run with some fields changed (validated)."""
    return IngestResult.model_validate({**run.model_dump(), **changes})


@dataclass
class UsageStored:
    """Dates to republish per source key, and the partitions taken over."""

    touched: dict[str, set[date]] = field(default_factory=dict)
    restated: list[str] = field(default_factory=list)


async def store_usage(
    writer: Writer,
    parts: dict[PartitionKey, list[UsageRecord]],
    holder_key: str,
    ingest_id: UUID,
) -> UsageStored:
    """Store usage per (source, month), each replaced whole."""
    stored = UsageStored()
    for partition, part in sorted(parts.items()):
        source_key = statement_source(partition)
        held = await writer.held_partition("usage", partition)
        old: set[date] = set()
        if held is not None and held != holder_key:
            old = await writer.clear_usage(source_key)
            stored.restated.append(f"{partition[0]} {partition[1].isoformat()}")
        await writer.hold_partition("usage", partition, holder_key, ingest_id)
        await writer.add_usage(source_key, part)
        stored.touched[source_key] = old | {r.date for r in part}
    return stored


def parse_rules(text: str) -> MappingRules:
    """Rules from YAML text; ConfigError says what is wrong."""
    try:
        return MappingRules.model_validate(load_yaml(text) or {})
    except yaml.YAMLError as exc:
        raise ConfigError(f"rules are not valid YAML: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"invalid rules: {exc}") from None
