"""PostgreSQL side of ingest: runs, held partitions, lines, costs, usage, rejects."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import date
from typing import Final
from uuid import UUID

import asyncpg

from finops.domain.records import NodeCost, UsageRecord
from ingest.models import IngestResult, RejectRow, TracedLine
from ingest.outbox import BATCH, Entry, Send
from ingest.queries import (
    COSTS_ON,
    FIND_DELIVERY,
    GET_RUN,
    REJECTS,
    RULES_BODY,
    RUN_LINES,
    TRACE,
    USAGE_ON,
)
from ingest.writer import INSERT_RUN, IngestWriter, run_values

__all__ = ["PgIngestStore"]

OUTBOX_LOCK: Final = 0x6F7574626F78  # one flush at a time ("outbox")
LOCK_OUTBOX: Final = "SELECT pg_advisory_xact_lock($1)"
PENDING: Final = """
SELECT entry_id, kind, source_key, dates, ingest_id FROM ingest_outbox
WHERE published_at IS NULL ORDER BY entry_id LIMIT $1"""
MARK_SENT: Final = "UPDATE ingest_outbox SET published_at = now() WHERE entry_id = $1"
SAVE_RULES: Final = """
INSERT INTO ingest_rule_sets (rules_id, body) VALUES ($1, $2) ON CONFLICT DO NOTHING"""


class PgIngestStore:
    """Reads and transactions over the service's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[IngestWriter]:
        """A writer whose work commits together or not at all."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield IngestWriter(conn)

    async def publish_pending(self, send: Send) -> int:
        """Send pending outbox entries in order, each marked sent in the same
        transaction, under a lock held across processes; returns how many. A send
        that fails rolls the marks back: those entries are sent again later."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(LOCK_OUTBOX, OUTBOX_LOCK)
            rows = await conn.fetch(PENDING, BATCH)
            for row in rows:
                await send(
                    Entry(
                        kind=row["kind"],
                        ingest_id=row["ingest_id"],
                        source_key=row["source_key"],
                        dates=frozenset(row["dates"]),
                        entry_id=row["entry_id"],
                    )
                )
                await conn.execute(MARK_SENT, row["entry_id"])
            return len(rows)

    async def save_rules(self, rules_id: str, body: str) -> None:
        """Keep a rules text under its id (once)."""
        await self._pool.execute(SAVE_RULES, rules_id, body)

    async def rules_body(self, rules_id: str) -> str | None:
        """The rules text of an id, if kept."""
        body: str | None = await self._pool.fetchval(RULES_BODY, rules_id)
        return body

    async def find_delivery(self, delivery_key: str) -> IngestResult | None:
        """The succeeded run of a delivery key, if any."""
        row = await self._pool.fetchrow(FIND_DELIVERY, delivery_key)
        return None if row is None else _to_result(row)

    async def get_run(self, ingest_id: UUID) -> IngestResult | None:
        """One run by id."""
        row = await self._pool.fetchrow(GET_RUN, ingest_id)
        return None if row is None else _to_result(row)

    async def record_run(self, run: IngestResult, delivery_key: str) -> None:
        """Record a run outside a delivery's transaction (a refused or failed file)."""
        await self._pool.execute(INSERT_RUN, *run_values(run, delivery_key))

    async def rejects(self, ingest_id: UUID) -> list[RejectRow]:
        """The refused rows of a run, in order."""
        return [
            RejectRow(**dict(r)) for r in await self._pool.fetch(REJECTS, ingest_id)
        ]

    async def trace(
        self, node: str, day: date, dimension: str, *, limit: int
    ) -> list[TracedLine]:
        """Stored lines behind a node's cost on a day in a dimension."""
        rows = await self._pool.fetch(TRACE, node, day, dimension, limit)
        return [TracedLine(**dict(r)) for r in rows]

    async def run_lines(
        self, ingest_id: UUID, *, limit: int, offset: int
    ) -> list[TracedLine]:
        """Stored lines of a run by line number."""
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


def _to_result(row: asyncpg.Record) -> IngestResult:
    fields = dict(row)
    fields.pop("delivery_key", None)
    fields["provider_totals"] = json.loads(fields["provider_totals"])
    return IngestResult(**fields)
