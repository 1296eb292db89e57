"""PostgreSQL side of ingest: runs, held partitions, lines, costs, usage, rejects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import Any, Final
from uuid import UUID

import asyncpg
import pyarrow as pa

from finops.deliveries import IngestResult, RejectRow, TracedLine
from finops.errors import StoreConflictError
from finops.focus.rejects import Reject
from finops.focus.restatement import PartitionKey
from finops.records import NodeCost, UsageRecord
from ingest.linecopy import LINE_COLUMNS, lines_to_csv

__all__ = ["IngestWriter", "PgIngestStore"]

SAVE_RULES: Final = """
INSERT INTO ingest_rule_sets (rules_id, body) VALUES ($1, $2) ON CONFLICT DO NOTHING"""
RULES_BODY: Final = "SELECT body FROM ingest_rule_sets WHERE rules_id = $1"
FIND_DELIVERY: Final = """
SELECT * FROM ingest_runs WHERE delivery_key = $1 AND status = 'succeeded'"""
GET_RUN: Final = "SELECT * FROM ingest_runs WHERE ingest_id = $1"
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
DELETE_LINES: Final = """
DELETE FROM cost_lines
WHERE billing_month = date_trunc('month', $2::date)::date AND source = $1
  AND billing_period_start >= $2::timestamp AT TIME ZONE 'UTC'
  AND billing_period_start < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'"""
DELETE_COSTS: Final = """
DELETE FROM node_costs_by_dimension WHERE source = $1 RETURNING charge_date"""
ADD_COSTS: Final = """
INSERT INTO node_costs_by_dimension AS c
    (node_id, charge_date, dimension, source, amount)
SELECT n, d, m, $1, a * 0.000001
FROM unnest($2::text[], $3::date[], $4::text[], $5::bigint[]) AS t (n, d, m, a)
ON CONFLICT (node_id, charge_date, dimension, source) DO UPDATE
SET amount = c.amount + excluded.amount, updated_at = now()"""
COSTS_ON: Final = """
SELECT node_id, charge_date, dimension, (amount * 1000000)::bigint AS micros
FROM node_costs_by_dimension WHERE source = $1 AND charge_date = ANY($2::date[])
ORDER BY charge_date, node_id, dimension"""
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
USAGE_ON: Final = """
SELECT node_id, usage_date, metric, labels::text AS labels, value::float8 AS value
FROM node_usage_by_dimension WHERE source = $1 AND usage_date = ANY($2::date[])
ORDER BY usage_date, node_id, metric, labels_key"""
PARTITION_EXISTS: Final = "SELECT to_regclass($1)"
CREATE_MONTH: Final = """
CREATE TABLE IF NOT EXISTS {name} PARTITION OF cost_lines
FOR VALUES FROM ('{first}') TO ('{after}')"""
REJECTS: Final = """
SELECT file, line, reason FROM ingest_rejects WHERE ingest_id = $1 ORDER BY seq"""
TRACE: Final = """
SELECT l.ingest_id, r.file_name, l.line, l.source, l.provider, l.billing_account_id,
    l.service_name, l.resource_id, l.charge_period_start, l.charge_period_end, l.cost,
    l.node, l.dimension
FROM cost_lines l JOIN ingest_runs r USING (ingest_id)
WHERE l.node = $1 AND l.dimension = $3
  AND l.charge_period_start < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
  AND l.charge_period_start >= ($2::date - 3661)::timestamp AT TIME ZONE 'UTC'
  AND (l.charge_period_end > $2::timestamp AT TIME ZONE 'UTC'
       OR (l.charge_period_end = l.charge_period_start
           AND l.charge_period_start >= $2::timestamp AT TIME ZONE 'UTC'))
ORDER BY l.ingest_id, l.line LIMIT $4"""
RUN_LINES: Final = """
SELECT l.ingest_id, r.file_name, l.line, l.source, l.provider, l.billing_account_id,
    l.service_name, l.resource_id, l.charge_period_start, l.charge_period_end, l.cost,
    l.node, l.dimension
FROM cost_lines l JOIN ingest_runs r USING (ingest_id)
WHERE l.ingest_id = $1 ORDER BY l.line LIMIT $2 OFFSET $3"""
_COPY_ROWS: Final = 16_384


class IngestWriter:
    """Writes of one delivery, on one connection inside one transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def insert_run(self, run: IngestResult, delivery_key: str) -> None:
        """Record a run (before its partitions, which refer to it)."""
        try:
            await self._conn.execute(INSERT_RUN, *_run_values(run, delivery_key))
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
            _totals_json(run),
            run.billing_periods,
            run.finished_at,
        )

    async def held_partition(self, kind: str, key: PartitionKey) -> str | None:
        """Lock a partition for this transaction; the delivery that holds it, if any."""
        await self._conn.execute(LOCK_PARTITION, kind, key[0], key[1].isoformat())
        return await self._conn.fetchval(HELD_PARTITION, kind, *key)  # type: ignore[no-any-return]

    async def hold_partition(
        self, kind: str, key: PartitionKey, delivery_key: str, ingest_id: UUID
    ) -> None:
        """Record which delivery now states this partition."""
        await self._conn.execute(HOLD_PARTITION, kind, *key, delivery_key, ingest_id)

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
        """Add node costs (micro-units) to what a source key states."""
        if costs.num_rows:
            columns = [costs[c].to_pylist() for c in costs.column_names]
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


class PgIngestStore:
    """Reads and transactions over the service's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[IngestWriter]:
        """A writer whose work commits together or not at all."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield IngestWriter(conn)

    async def save_rules(self, rules_id: str, body: str) -> None:
        await self._pool.execute(SAVE_RULES, rules_id, body)

    async def rules_body(self, rules_id: str) -> str | None:
        return await self._pool.fetchval(RULES_BODY, rules_id)  # type: ignore[no-any-return]

    async def find_delivery(self, delivery_key: str) -> IngestResult | None:
        row = await self._pool.fetchrow(FIND_DELIVERY, delivery_key)
        return None if row is None else _to_result(row)

    async def get_run(self, ingest_id: UUID) -> IngestResult | None:
        row = await self._pool.fetchrow(GET_RUN, ingest_id)
        return None if row is None else _to_result(row)

    async def record_run(self, run: IngestResult, delivery_key: str) -> None:
        """Record a run outside a delivery's transaction (a refused or failed file)."""
        await self._pool.execute(INSERT_RUN, *_run_values(run, delivery_key))

    async def rejects(self, ingest_id: UUID) -> list[RejectRow]:
        return [
            RejectRow(**dict(r)) for r in await self._pool.fetch(REJECTS, ingest_id)
        ]

    async def trace(
        self, node: str, day: date, dimension: str, *, limit: int
    ) -> list[TracedLine]:
        rows = await self._pool.fetch(TRACE, node, day, dimension, limit)
        return [TracedLine(**dict(r)) for r in rows]

    async def run_lines(
        self, ingest_id: UUID, *, limit: int, offset: int
    ) -> list[TracedLine]:
        rows = await self._pool.fetch(RUN_LINES, ingest_id, limit, offset)
        return [TracedLine(**dict(r)) for r in rows]

    async def node_costs(
        self, source_key: str, dates: Iterable[date]
    ) -> dict[date, list[NodeCost]]:
        """What a source key states on these dates, by date."""
        found: dict[date, list[NodeCost]] = {}
        for r in await self._pool.fetch(COSTS_ON, source_key, sorted(set(dates))):
            cost = NodeCost(
                node=r["node_id"],
                date=r["charge_date"],
                dimension=r["dimension"],
                amount_micros=r["micros"],
            )
            found.setdefault(cost.date, []).append(cost)
        return found

    async def usage(
        self, source_key: str, dates: Iterable[date]
    ) -> dict[date, list[UsageRecord]]:
        """Usage a source key states on these dates, by date."""
        found: dict[date, list[UsageRecord]] = {}
        for r in await self._pool.fetch(USAGE_ON, source_key, sorted(set(dates))):
            record = UsageRecord(
                node=r["node_id"],
                date=r["usage_date"],
                metric=r["metric"],
                value=r["value"],
                labels=json.loads(r["labels"]),
            )
            found.setdefault(record.date, []).append(record)
        return found


async def _csv_chunks(lines: pa.Table, ingest_id: UUID) -> AsyncIterator[bytes]:
    """CSV of the lines in slices (a few MB each), made off the event loop."""
    for start in range(0, lines.num_rows, _COPY_ROWS):
        part = lines.slice(start, _COPY_ROWS)
        yield await asyncio.to_thread(lines_to_csv, part, ingest_id)


def _usage_row(record: UsageRecord) -> tuple[Any, ...]:
    labels = json.dumps(record.labels, sort_keys=True, separators=(",", ":"))
    key = "" if not record.labels else labels
    return record.node, record.date, record.metric, key, labels, record.value


def _totals_json(run: IngestResult) -> str:
    return json.dumps({k: str(v) for k, v in run.provider_totals.items()})


def _run_values(run: IngestResult, delivery_key: str) -> tuple[Any, ...]:
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
        _totals_json(run),
        run.billing_periods,
        run.started_at,
        run.finished_at,
    )


def _to_result(row: asyncpg.Record) -> IngestResult:
    fields = dict(row)
    fields.pop("delivery_key", None)
    fields["provider_totals"] = json.loads(fields["provider_totals"])
    return IngestResult(**fields)
