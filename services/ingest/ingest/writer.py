"""Writes of one delivery inside one transaction: runs, partitions, lines, costs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date
from typing import Any, Final
from uuid import UUID

import asyncpg
import pyarrow as pa
from asyncpg.pool import PoolConnectionProxy

from finops.domain.focus.rejects import Reject
from finops.domain.focus.restatement import PartitionKey
from finops.domain.records import UsageRecord
from finops.errors import StoreConflictError
from ingest.linecopy import LINE_COLUMNS, lines_to_csv
from ingest.models import IngestResult
from ingest.outbox import Entry

__all__ = ["INSERT_RUN", "IngestWriter", "run_values", "totals_json"]

INSERT_RUN: Final = """
INSERT INTO ingest_runs (ingest_id, origin, format, source, file_name, content_hash,
    delivery_key, rules_id, layout, status, error, rows_read, rows_accepted,
    rows_rejected, provider_totals, billing_periods, started_at, finished_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
    $17, $18)"""
FINISH_RUN: Final = """
UPDATE ingest_runs SET layout = $2, rows_read = $3, rows_accepted = $4,
    rows_rejected = $5, provider_totals = $6, billing_periods = $7, finished_at = $8
WHERE ingest_id = $1"""
LOCK_PARTITION: Final = (
    "SELECT pg_advisory_xact_lock(hashtext($1 || '|' || $2 || '|' || $3))"
)
HELD_PARTITION: Final = """
SELECT delivery_key FROM ingest_partitions
WHERE kind = $1 AND source = $2 AND billing_period = $3"""
HOLD_PARTITION: Final = """
INSERT INTO ingest_partitions (kind, source, billing_period, delivery_key, ingest_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (kind, source, billing_period) DO UPDATE
SET delivery_key = excluded.delivery_key, ingest_id = excluded.ingest_id,
    updated_at = now()"""
# The run that held a partition another delivery takes is superseded: its bytes sent
# again are a new delivery (migration 0040).
SUPERSEDE: Final = """
UPDATE ingest_runs SET superseded_by = $5
WHERE superseded_by IS NULL AND ingest_id = (
    SELECT ingest_id FROM ingest_partitions
    WHERE kind = $1 AND source = $2 AND billing_period = $3 AND delivery_key <> $4)"""
ADD_OUTBOX: Final = """
INSERT INTO ingest_outbox (kind, source_key, dates, ingest_id)
VALUES ($1, $2, $3, $4)"""
DELETE_LINES: Final = """
DELETE FROM cost_lines
WHERE billing_month = date_trunc('month', $2::date)::date AND source = $1
  AND billing_period_start >= $2::timestamp AT TIME ZONE 'UTC'
  AND billing_period_start < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'"""
DELETE_COSTS: Final = """
DELETE FROM node_costs_by_dimension WHERE source = $1 RETURNING charge_date"""
# Amounts come exact (micro-units and pico-units below them); each row keeps the
# exact sum of what its source states and its amount is that sum rounded once,
# half to even (finops_round_micros, migration 0042).
ADD_COSTS: Final = """
INSERT INTO node_costs_by_dimension AS c
    (node_id, charge_date, dimension, source, amount, exact_amount)
SELECT n, d, m, $1, finops_round_micros(e), e
FROM unnest($2::text[], $3::date[], $4::text[], $5::bigint[], $6::bigint[])
    AS t (n, d, m, a, p),
    LATERAL (SELECT a * 0.000001 + p * 0.000000000001 AS e) AS x
ON CONFLICT (node_id, charge_date, dimension, source) DO UPDATE
SET exact_amount = coalesce(c.exact_amount, c.amount) + excluded.exact_amount,
    amount = finops_round_micros(
        coalesce(c.exact_amount, c.amount) + excluded.exact_amount),
    updated_at = now()"""
DELETE_USAGE: Final = """
DELETE FROM node_usage_by_dimension WHERE source = $1 RETURNING usage_date"""
ADD_USAGE: Final = """
INSERT INTO node_usage_by_dimension AS u
    (node_id, usage_date, metric, labels_key, labels, source, value)
SELECT n, d, m, k, l::jsonb, $1, v
FROM unnest($2::text[], $3::date[], $4::text[], $5::text[], $6::text[], $7::float8[])
    AS t (n, d, m, k, l, v)
ON CONFLICT (node_id, usage_date, metric, source, labels_key) DO UPDATE
SET value = excluded.value, updated_at = now()"""
PARTITION_EXISTS: Final = "SELECT to_regclass($1)"
LOCK_MONTH_TABLE: Final = "SELECT pg_advisory_xact_lock(hashtext($1))"
CREATE_MONTH: Final = """
CREATE TABLE IF NOT EXISTS {name} PARTITION OF cost_lines
FOR VALUES FROM ('{first}') TO ('{after}')"""
_COPY_ROWS: Final = 16_384
_COST_COLUMNS: Final = (
    "node",
    "date",
    "dimension",
    "amount_micros",
    "amount_picos",
)


class IngestWriter:
    """Writes of one delivery, on one connection inside one transaction."""

    def __init__(self, conn: asyncpg.Connection | PoolConnectionProxy) -> None:
        self._conn = conn

    async def insert_run(self, run: IngestResult, delivery_key: str) -> None:
        """Record a run (before its partitions, which refer to it)."""
        try:
            await self._conn.execute(INSERT_RUN, *run_values(run, delivery_key))
        except asyncpg.UniqueViolationError:
            raise StoreConflictError(
                f"delivery {delivery_key} is being taken"
            ) from None

    async def finish_run(self, run: IngestResult) -> None:
        """Store a run's final counts."""
        await self._conn.execute(
            FINISH_RUN,
            run.ingest_id,
            run.layout,
            run.rows_read,
            run.rows_accepted,
            run.rows_rejected,
            totals_json(run),
            run.billing_periods,
            run.finished_at,
        )

    async def held_partition(self, kind: str, key: PartitionKey) -> str | None:
        """Lock a partition for this transaction; the delivery that holds it, if any."""
        await self._conn.execute(LOCK_PARTITION, kind, key[0], key[1].isoformat())
        holder: str | None = await self._conn.fetchval(HELD_PARTITION, kind, *key)
        return holder

    async def hold_partition(
        self, kind: str, key: PartitionKey, delivery_key: str, ingest_id: UUID
    ) -> None:
        """Record which delivery now states this partition; the run of another
        delivery that held it is superseded."""
        await self._conn.execute(SUPERSEDE, kind, *key, delivery_key, ingest_id)
        await self._conn.execute(HOLD_PARTITION, kind, *key, delivery_key, ingest_id)

    async def add_outbox(self, entries: Iterable[Entry]) -> None:
        """What this delivery must publish, committed with it (ingest.outbox)."""
        await self._conn.executemany(
            ADD_OUTBOX,
            [(e.kind, e.source_key, sorted(e.dates), e.ingest_id) for e in entries],
        )

    async def clear_cost_partition(
        self, key: PartitionKey, source_key: str
    ) -> set[date]:
        """Delete a partition's lines and node costs; returns the dates of its costs."""
        await self._conn.execute(DELETE_LINES, *key)
        return {
            r["charge_date"] for r in await self._conn.fetch(DELETE_COSTS, source_key)
        }

    async def clear_usage(self, source_key: str) -> set[date]:
        """Delete a usage partition; returns the dates it had figures on."""
        return {
            r["usage_date"] for r in await self._conn.fetch(DELETE_USAGE, source_key)
        }

    async def ensure_months(self, months: Iterable[date]) -> None:
        """Create the line partitions of these billing months if missing."""
        for first in sorted(set(months)):
            name = f"cost_lines_y{first.year:04d}m{first.month:02d}"
            if await self._conn.fetchval(PARTITION_EXISTS, name) is not None:
                continue
            # Concurrent first uploads of a month: one creates the partition, the
            # others wait for its commit here, then find it (IF NOT EXISTS alone
            # races: "relation already exists").
            await self._conn.execute(LOCK_MONTH_TABLE, name)
            if await self._conn.fetchval(PARTITION_EXISTS, name) is None:
                after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
                sql = CREATE_MONTH.format(name=name, first=first, after=after)
                await self._conn.execute(sql)

    async def copy_lines(self, ingest_id: UUID, lines: pa.Table) -> None:
        """Bulk-insert normalised lines (COPY, CSV made by Arrow)."""
        await self._conn.copy_to_table(
            "cost_lines",
            source=_csv_chunks(lines, ingest_id),
            columns=LINE_COLUMNS,
            format="csv",
        )

    async def add_node_costs(self, source_key: str, costs: pa.Table) -> None:
        """Add exact node costs (UNIT_COSTS_SCHEMA) to what a source key states."""
        if costs.num_rows:
            columns = [costs[c].to_pylist() for c in _COST_COLUMNS]
            await self._conn.execute(ADD_COSTS, source_key, *columns)

    async def add_usage(self, source_key: str, records: Sequence[UsageRecord]) -> None:
        """Store usage figures under a source key."""
        rows = [_usage_row(r) for r in records]
        if rows:
            await self._conn.execute(
                ADD_USAGE, source_key, *map(list, zip(*rows, strict=True))
            )

    async def add_rejects(
        self, ingest_id: UUID, rejects: Sequence[Reject], start: int
    ) -> None:
        """Store rejected rows, numbered from `start`."""
        rows = [
            (ingest_id, start + i, r.file, r.line, r.reason)
            for i, r in enumerate(rejects)
        ]
        if rows:
            await self._conn.copy_records_to_table(
                "ingest_rejects",
                records=rows,
                columns=["ingest_id", "seq", "file", "line", "reason"],
            )


async def _csv_chunks(lines: pa.Table, ingest_id: UUID) -> AsyncIterator[bytes]:
    """CSV of the lines in slices (a few MB each), made off the event loop."""
    for start in range(0, lines.num_rows, _COPY_ROWS):
        part = lines.slice(start, _COPY_ROWS)
        yield await asyncio.to_thread(lines_to_csv, part, ingest_id)


def _usage_row(record: UsageRecord) -> tuple[Any, ...]:
    labels = json.dumps(record.labels, sort_keys=True, separators=(",", ":"))
    key = "" if not record.labels else labels
    return record.node, record.date, record.metric, key, labels, record.value


def totals_json(run: IngestResult) -> str:
    """Provider totals as JSON of decimal text."""
    return json.dumps({k: str(v) for k, v in run.provider_totals.items()})


def run_values(run: IngestResult, delivery_key: str) -> tuple[Any, ...]:
    """INSERT_RUN parameters of a run."""
    return (
        run.ingest_id,
        run.origin,
        run.format,
        run.source,
        run.file_name,
        run.content_hash,
        delivery_key,
        run.rules_id,
        run.layout,
        run.status,
        run.error,
        run.rows_read,
        run.rows_accepted,
        run.rows_rejected,
        totals_json(run),
        run.billing_periods,
        run.started_at,
        run.finished_at,
    )
