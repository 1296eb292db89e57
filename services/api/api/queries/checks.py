"""Reconciliation: conservation per day, flow invariants, graph stats, freshness."""

from __future__ import annotations

from typing import Any, Final

from api.params import Window
from api.queries.base import IN_WINDOW, MICROS, Reader, window_args

__all__ = ["broken_nodes", "daily_balance", "freshness", "graph_stats", "inputs_by_day"]

_BALANCE: Final = f"""
WITH r AS (
    SELECT r.charge_date AS day, (sum(r.direct){MICROS} AS raw,
        (coalesce(sum(r.retained) FILTER (WHERE n.node_type = 'product'), 0){MICROS}
            AS allocated,
        (coalesce(sum(r.retained) FILTER (WHERE n.node_type IS DISTINCT FROM
            'product'), 0){MICROS} AS unallocated,
        (sum(r.indirect){MICROS} AS received,
        (sum(r.allocated_out){MICROS} AS passed_on,
        count(*) AS rows
    FROM allocation_results r LEFT JOIN cost_nodes n USING (node_id)
    WHERE {IN_WINDOW} GROUP BY 1),
f AS (
    SELECT r.charge_date AS day, (sum(r.amount){MICROS} AS flows, count(*) AS flow_rows
    FROM allocation_contributions r WHERE {IN_WINDOW} GROUP BY 1)
SELECT r.*, coalesce(f.flows, 0) AS flows, coalesce(f.flow_rows, 0) AS flow_rows
FROM r LEFT JOIN f USING (day) ORDER BY day"""
_INPUTS: Final = f"""
SELECT r.charge_date AS day, (sum(r.amount){MICROS} AS amount
FROM node_costs_by_dimension r WHERE {IN_WINDOW} GROUP BY 1"""
# Node rows whose passed-on or received amount is not the sum of their flows.
_BROKEN: Final = f"""
WITH o AS (
    SELECT r.from_node AS node_id, r.charge_date, r.dimension, sum(r.amount) AS out
    FROM allocation_contributions r WHERE {IN_WINDOW} GROUP BY 1, 2, 3),
i AS (
    SELECT r.to_node AS node_id, r.charge_date, r.dimension, sum(r.amount) AS got
    FROM allocation_contributions r WHERE {IN_WINDOW} GROUP BY 1, 2, 3)
SELECT r.node_id, r.charge_date AS day, r.dimension,
       (r.allocated_out{MICROS} AS allocated_out,
       (coalesce(o.out, 0){MICROS} AS flows_out,
       (r.indirect{MICROS} AS indirect, (coalesce(i.got, 0){MICROS} AS flows_in
FROM allocation_results r
LEFT JOIN o USING (node_id, charge_date, dimension)
LEFT JOIN i USING (node_id, charge_date, dimension)
WHERE {IN_WINDOW}
  AND (r.allocated_out <> coalesce(o.out, 0) OR r.indirect <> coalesce(i.got, 0))
ORDER BY 2, 1, 3 LIMIT 20"""
_GRAPH: Final = """
SELECT (SELECT max(version) FROM graph_versions) AS version,
       (SELECT max(applied_at) FROM graph_versions) AS applied_at,
       (SELECT count(*) FROM dependency_edges) AS edges,
       (SELECT coalesce(jsonb_object_agg(node_type, n), '{}')::text FROM (
           SELECT node_type, count(*) AS n FROM cost_nodes WHERE active
           GROUP BY node_type) t) AS nodes"""
_FRESH: Final = """
SELECT charge_date, graph_version, input_offsets::text AS input_offsets, stored_at
FROM allocator_days WHERE charge_date BETWEEN $1 AND $2 ORDER BY charge_date"""
_INGEST: Final = """
SELECT max(finished_at) AS last_ingest,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE status <> 'succeeded') AS refused_or_failed
FROM ingest_runs"""


async def daily_balance(db: Reader, window: Window) -> list[dict[str, Any]]:
    """Per stored day: raw, allocated, unallocated, received, passed on, flows."""
    return [dict(r) for r in await db.fetch(_BALANCE, *window_args(window))]


async def inputs_by_day(db: Reader, window: Window) -> dict[Any, int]:
    """What ingest stored as direct cost per day (absent: none through ingest)."""
    rows = await db.fetch(_INPUTS, *window_args(window))
    return {r["day"]: int(r["amount"]) for r in rows}


async def broken_nodes(db: Reader, window: Window) -> list[dict[str, Any]]:
    """Up to 20 node rows whose flows do not add up to their figures."""
    return [dict(r) for r in await db.fetch(_BROKEN, *window_args(window))]


async def graph_stats(db: Reader) -> dict[str, Any]:
    """The latest graph version, its nodes per type and its edges."""
    row = await db.fetchrow(_GRAPH)
    assert row is not None
    return dict(row)


async def freshness(db: Reader, window: Window) -> tuple[list[dict[str, Any]], Any]:
    """Per stored day its graph version and input offsets; ingest's last delivery."""
    days = [dict(r) for r in await db.fetch(_FRESH, window.start, window.end)]
    ingest = await db.fetchrow(_INGEST)
    return days, dict(ingest) if ingest is not None else {}
