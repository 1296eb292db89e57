"""The read-only pool the queries run on, the data version and the latest day."""

from __future__ import annotations

from datetime import date
from typing import Any, Final

import asyncpg

from api.params import Window

__all__ = ["FIGURES", "MICROS", "Reader", "parents_flows", "window_args"]

# Stored NUMERIC(24, 6) to exact integer micro-units.
MICROS: Final = " * 1000000)::bigint"
FIGURES: Final = ("direct", "indirect", "holistic", "allocated_out", "retained")
SUMS: Final = ", ".join(f"(coalesce(sum(r.{f}), 0){MICROS} AS {f}" for f in FIGURES)
# $1, $2: first and last day; $3: dimensions (empty: all).
IN_WINDOW: Final = """r.charge_date BETWEEN $1 AND $2
  AND (cardinality($3::text[]) = 0 OR r.dimension = ANY($3::text[]))"""


def parents_flows(nodes: str, where: str) -> str:
    """A FROM clause, `f`: the derived flows (allocation_contributions) of the parents
    of `nodes` (an array parameter) on the dates and dimensions `where` selects (on the
    share sets, `s.`). A to_node predicate on the view cannot go below its window
    functions and would derive every flow of those dates; found by the share sets'
    index of children, each parent's flows are derived alone (decisions 0240, 0270)."""
    return f"""(SELECT DISTINCT s.from_node, s.charge_date, s.dimension
    FROM allocation_share_sets s WHERE s.to_nodes && {nodes} AND {where}) p
CROSS JOIN LATERAL (SELECT c.* FROM allocation_contributions c
    WHERE c.from_node = p.from_node AND c.charge_date = p.charge_date
      AND c.dimension = p.dimension OFFSET 0) f"""


_VERSION: Final = """
SELECT concat_ws('/',
    (SELECT max(started_at) FROM computation_runs)::text,
    (SELECT max(stored_at) FROM allocator_days)::text,
    (SELECT max(version) FROM graph_versions)::text,
    (SELECT max(finished_at) FROM ingest_runs)::text,
    (SELECT max(updated_at) FROM node_usage_by_dimension)::text)"""
_LATEST: Final = "SELECT max(charge_date) FROM allocator_days"


def window_args(window: Window) -> tuple[date, date, list[str]]:
    """$1, $2, $3 of IN_WINDOW."""
    return window.start, window.end, window.dimensions


class Reader:
    """Queries on a pool whose sessions are read-only."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return list(await self.pool.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        return await self.pool.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self.pool.fetchval(query, *args)

    async def data_version(self) -> str:
        """Changes whenever results, the graph, bills or usage are written."""
        return str(await self.pool.fetchval(_VERSION))

    async def latest_day(self) -> date | None:
        """The latest charge date with stored results."""
        day: date | None = await self.pool.fetchval(_LATEST)
        return day
