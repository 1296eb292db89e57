"""Explain one number: one day's flows, direct-cost sources, bill lines."""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from api.queries.base import FIGURES, MICROS, Reader, parents_flows

__all__ = ["bill_lines", "day_figures", "day_flows_into", "direct_sources"]

_FLOWS: Final = f"""
SELECT f.from_node, f.to_node, (f.amount{MICROS} AS amount, f.strategy, f.share,
       e.params ->> 'metric' AS metric
FROM {parents_flows("$1::text[]", "s.charge_date = $2 AND s.dimension = $3")}
LEFT JOIN LATERAL (SELECT params FROM dependency_edges d
    WHERE d.from_node = f.from_node AND d.to_node = f.to_node
    ORDER BY d.active_from DESC NULLS LAST LIMIT 1) e ON true
WHERE f.to_node = ANY($1::text[]) AND f.charge_date = $2 AND f.dimension = $3
  AND f.amount <> 0
ORDER BY f.to_node, f.amount DESC, f.from_node"""
_FIGURES: Final = f"""
SELECT r.node_id, {", ".join(f"(r.{f}{MICROS} AS {f}" for f in FIGURES)}
FROM allocation_results r
WHERE r.node_id = ANY($1::text[]) AND r.charge_date = $2 AND r.dimension = $3"""
_SOURCES: Final = f"""
SELECT node_id, source, (amount{MICROS} AS amount, currency
FROM node_costs_by_dimension
WHERE node_id = ANY($1::text[]) AND charge_date = $2 AND dimension = $3
ORDER BY node_id, source"""
# Bill lines whose charge period covers the day, mapped to the node and dimension.
_LINES: Final = f"""
SELECT * FROM (
    SELECT l.node, l.source, coalesce(i.file_name, '') AS file, l.line, l.provider,
           l.service_name, l.resource_id, l.charge_category,
           l.charge_period_start, l.charge_period_end, (l.cost{MICROS} AS cost,
           l.billing_currency, count(*) OVER (PARTITION BY l.node) AS total,
           row_number() OVER (PARTITION BY l.node
               ORDER BY l.cost DESC, i.file_name, l.line) AS rank
    FROM cost_lines l LEFT JOIN ingest_runs i USING (ingest_id)
    WHERE l.node = ANY($1::text[]) AND l.dimension = $3
      AND l.charge_period_start < $2::date + 1 AND l.charge_period_end > $2::date
) x WHERE rank <= $4 ORDER BY node, rank"""


async def day_flows_into(
    db: Reader, nodes: list[str], day: date, dimension: str
) -> list[dict[str, Any]]:
    """Non-zero flows into these nodes on the day in the dimension."""
    return [dict(r) for r in await db.fetch(_FLOWS, nodes, day, dimension)]


async def day_figures(
    db: Reader, nodes: list[str], day: date, dimension: str
) -> dict[str, dict[str, int]]:
    """The five figures of each node on the day in the dimension."""
    rows = await db.fetch(_FIGURES, nodes, day, dimension)
    return {r["node_id"]: {f: int(r[f]) for f in FIGURES} for r in rows}


async def direct_sources(
    db: Reader, nodes: list[str], day: date, dimension: str
) -> list[dict[str, Any]]:
    """What each source said the nodes cost directly that day (ingest's rows)."""
    return [dict(r) for r in await db.fetch(_SOURCES, nodes, day, dimension)]


async def bill_lines(
    db: Reader, nodes: list[str], day: date, dimension: str, *, per_node: int
) -> list[dict[str, Any]]:
    """Up to `per_node` bill lines per node behind its direct cost that day."""
    rows = await db.fetch(_LINES, nodes, day, dimension, per_node)
    return [dict(r) for r in rows]
