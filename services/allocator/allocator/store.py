"""asyncpg SQL of the allocator: node results and shares per date (flows are derived
from them in PostgreSQL), runs, the graph's nodes."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import TYPE_CHECKING

import asyncpg

from allocator.compute.shares import SHARE_COLUMNS
from allocator.offsets import DayOffsets
from allocator.pgcopy.delta import EncodedDelta
from allocator.pgcopy.format import CopyRows
from allocator.pgcopy.nodes import NODE_COLUMNS
from allocator.ports import DayWrite
from finops.adapters.graph_store import write_graph
from finops.contracts.events import GraphChanged
from finops.domain.dag import GraphSpec

__all__ = ["PostgresResultStore"]

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection = PoolConnectionProxy[asyncpg.Record]  # a pooled connection

_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS tmp_results (
    node_id TEXT, dimension TEXT, direct BIGINT, indirect BIGINT, holistic BIGINT,
    allocated_out BIGINT, retained BIGINT) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS tmp_share_groups (
    from_node TEXT, dimension TEXT, dimensions TEXT[], to_nodes TEXT[],
    strategies TEXT[], shares DOUBLE PRECISION[], retained DOUBLE PRECISION)
    ON COMMIT DELETE ROWS;
"""
_RUN = """
INSERT INTO computation_runs (run_id, kind, graph_version, first_date, last_date,
                              input_offsets, status, finished_at)
VALUES ($1, 'incremental', $2, $3, $3, $4::jsonb, 'succeeded', now())"""
_CLEAR_RESULTS = "DELETE FROM allocation_results WHERE charge_date = $1"
_CLEAR_SHARES = "DELETE FROM allocation_share_groups WHERE charge_date = $1"
_REMOVE_RESULTS = """
DELETE FROM allocation_results WHERE charge_date = $1
  AND (node_id, dimension) IN (SELECT * FROM unnest($2::text[], $3::text[]))"""
_REMOVE_SHARES = """
DELETE FROM allocation_share_groups
WHERE charge_date = $1 AND from_node = ANY($2::text[])"""
# Whole sets (every child of a parent and group of dimensions, and its retained share)
# come one row each, in binary COPY from the compute process: updated in place through
# a join (a HOT update: the children, the only indexed array, stay), the sets the join
# missed inserted (migrations 0080 and 0090, decisions 0270 and 0400). A parent's
# groups change only with its rules, and then its old sets are deleted first.
_UPSERT_SHARES = """
WITH changed AS (
    UPDATE allocation_share_groups s SET dimensions = t.dimensions,
        to_nodes = t.to_nodes, strategies = t.strategies, shares = t.shares,
        retained = t.retained, run_id = $2
    FROM tmp_share_groups t
    WHERE s.charge_date = $1 AND s.from_node = t.from_node AND s.dimension = t.dimension
    RETURNING s.from_node, s.dimension)
INSERT INTO allocation_share_groups (charge_date, from_node, dimension, dimensions,
    to_nodes, strategies, shares, retained, run_id)
SELECT $1, t.from_node, t.dimension, t.dimensions, t.to_nodes, t.strategies, t.shares,
       t.retained, $2
FROM tmp_share_groups t
LEFT JOIN changed c ON c.from_node = t.from_node AND c.dimension = t.dimension
WHERE c.from_node IS NULL"""
# Micro-units to NUMERIC(24, 6): a product of scale 6 is exact, and measured ~5 % less
# of the backend's CPU for the stream's writes than dividing by 1000000 (decision 0390).
_M = "::numeric * 0.000001"
# Rows are updated through a join with the temp table, then the rows the join did
# not find are inserted (docs/decisions/0008-write-only-what-changed.md). One writer
# owns a date, so no other transaction adds them in between (if one did, the key
# would clash and the write be retried).
_UPSERT_RESULTS = f"""
WITH changed AS (
    UPDATE allocation_results r SET
        direct = t.direct{_M}, indirect = t.indirect{_M}, holistic = t.holistic{_M},
        allocated_out = t.allocated_out{_M}, retained = t.retained{_M},
        run_id = $2, graph_version = $3, input_offsets = $4::jsonb, updated_at = now()
    FROM tmp_results t
    WHERE r.charge_date = $1 AND r.node_id = t.node_id AND r.dimension = t.dimension
    RETURNING r.node_id, r.dimension)
INSERT INTO allocation_results (node_id, charge_date, dimension, direct, indirect,
    holistic, allocated_out, retained, run_id, graph_version, input_offsets)
SELECT t.node_id, $1, t.dimension, t.direct{_M}, t.indirect{_M}, t.holistic{_M},
       t.allocated_out{_M}, t.retained{_M}, $2, $3, $4::jsonb
FROM tmp_results t LEFT JOIN changed c
    ON c.node_id = t.node_id AND c.dimension = t.dimension
WHERE c.node_id IS NULL"""
_DAY = """
INSERT INTO allocator_days (charge_date, graph_version, input_offsets, run_id)
VALUES ($1, $2, $3::jsonb, $4)
ON CONFLICT (charge_date) DO UPDATE SET graph_version = EXCLUDED.graph_version,
    input_offsets = EXCLUDED.input_offsets, run_id = EXCLUDED.run_id,
    stored_at = now()"""
_MARK = """
INSERT INTO allocator_days (charge_date, graph_version, input_offsets)
VALUES ($1, $2, $3::jsonb)
ON CONFLICT (charge_date) DO UPDATE SET graph_version = EXCLUDED.graph_version,
    input_offsets = EXCLUDED.input_offsets, stored_at = now()"""
_DAYS = "SELECT charge_date, graph_version, input_offsets FROM allocator_days"


class PostgresResultStore:
    """Writes a date's node rows and shares in one transaction; replaces, never
    adds twice."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def write_results(self, write: DayWrite) -> None:
        """Store a date's run, changed node rows and the shares of its replaced
        plans, and the offsets the date's stored rows now reflect (its flows, derived
        from both, are seen by readers when this commits)."""
        day, delta = write.day, write.delta
        marks = _offsets_json(write.offsets)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_TEMP)
            await conn.execute(_RUN, write.run_id, write.graph_version, day, marks)
            if delta.complete:
                await conn.execute(_CLEAR_RESULTS, day)
            elif delta.plain.nodes_removed:
                nodes, dims = zip(*delta.plain.nodes_removed, strict=True)
                await conn.execute(_REMOVE_RESULTS, day, list(nodes), list(dims))
            if delta.nodes_written:
                await _copy_results(conn, delta)
                await conn.execute(
                    _UPSERT_RESULTS, day, write.run_id, write.graph_version, marks
                )
            await _write_shares(conn, write)
            await _mark(conn, write, marks)

    async def mark_day(
        self, day: date, *, graph_version: int, offsets: DayOffsets | None
    ) -> None:
        """The stored rows of a date already reflect these inputs (nothing changed)."""
        await self._pool.execute(_MARK, day, graph_version, _offsets_json(offsets))

    async def stored_days(self) -> dict[date, tuple[int, DayOffsets | None]]:
        """Graph version and offsets of every stored date."""
        rows = await self._pool.fetch(_DAYS)
        return {
            r["charge_date"]: (r["graph_version"], _offsets(r["input_offsets"]))
            for r in rows
        }

    async def write_graph(self, spec: GraphSpec, change: GraphChanged) -> None:
        """Keep the graph after `change` in the database (nodes, edges, overrides),
        for `finops results` and every reader; a version stored already is skipped."""
        async with self._pool.acquire() as conn:
            await write_graph(
                conn,
                spec,
                version=change.version,
                digest=change.digest,
                event_id=change.event_id,
            )


def _offsets_json(offsets: DayOffsets | None) -> str:
    """input_offsets as stored: {"inputs": "p/o", "origin": "topic/p/o"} or {}."""
    return json.dumps(offsets.to_json() if offsets else {})


def _offsets(stored: str) -> DayOffsets | None:
    value = json.loads(stored)
    return DayOffsets.from_json(value) if value else None


async def _mark(conn: Connection, write: DayWrite, marks: str) -> None:
    """The date's stored rows reflect these offsets and graph version."""
    await conn.execute(_DAY, write.day, write.graph_version, marks, write.run_id)


async def _copy(
    conn: Connection, table: str, records: list[tuple[object, ...]]
) -> None:
    if records:
        await conn.copy_records_to_table(table, records=records)


async def _copy_encoded(
    conn: Connection, table: str, rows: CopyRows, columns: tuple[str, ...]
) -> None:
    """Rows the compute process encoded in binary COPY format, passed on as they are."""
    if rows.count:
        source = io.BytesIO(rows.data)
        await conn.copy_to_table(table, source=source, columns=columns, format="binary")


async def _write_shares(conn: Connection, write: DayWrite) -> None:
    """Replace the date's shares (all of them, or the listed parents')."""
    shares = write.delta.shares
    if shares.complete or write.delta.complete:
        await conn.execute(_CLEAR_SHARES, write.day)
    elif shares.parents:
        await conn.execute(_REMOVE_SHARES, write.day, shares.parents)
    if shares.rows is not None and shares.rows.count:
        await _copy_encoded(conn, "tmp_share_groups", shares.rows, SHARE_COLUMNS)
        await conn.execute(_UPSERT_SHARES, write.day, write.run_id)


async def _copy_results(conn: Connection, delta: EncodedDelta) -> None:
    if delta.node_copy is not None:
        await _copy_encoded(conn, "tmp_results", delta.node_copy.copy, NODE_COLUMNS)
    nodes = delta.plain.nodes
    await _copy(conn, "tmp_results", [(n, k, *row) for (n, k), row in nodes.items()])
