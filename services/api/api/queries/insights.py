"""What recommendations and unit costs read: utilisation per node and metric, the
cost kept by nodes other than products, idle shared nodes, usage per product."""

from __future__ import annotations

from typing import Any, Final

from api.params import Window
from api.queries.base import IN_WINDOW, MICROS, Reader, window_args

__all__ = ["idle_shared", "product_usage", "retained_elsewhere", "utilisation"]

# $1, $2: days. A day's figure is the mean of its rows (labels, sources).
_UTILISATION: Final = """
WITH daily AS (
    SELECT node_id, metric, usage_date, avg(value) AS v
    FROM node_usage_by_dimension
    WHERE usage_date BETWEEN $1 AND $2
      AND (lower(metric) LIKE '%utilization' OR lower(metric) LIKE '%utilisation')
    GROUP BY 1, 2, 3)
SELECT d.node_id, n.node_type, d.metric, avg(d.v)::text AS average,
       max(d.v)::text AS peak, count(*) AS days
FROM daily d LEFT JOIN cost_nodes n USING (node_id)
GROUP BY d.node_id, n.node_type, d.metric
ORDER BY d.node_id, d.metric"""
_RETAINED: Final = f"""
SELECT r.node_id, n.node_type, (sum(r.retained){MICROS} AS retained,
       (sum(r.direct){MICROS} AS direct, (sum(r.holistic){MICROS} AS holistic,
       (sum(r.allocated_out){MICROS} AS allocated_out
FROM allocation_results r LEFT JOIN cost_nodes n USING (node_id)
WHERE {IN_WINDOW} AND n.node_type IS DISTINCT FROM 'product'
GROUP BY r.node_id, n.node_type
HAVING sum(r.retained) > 0
ORDER BY retained DESC, r.node_id"""
_IDLE: Final = f"""
SELECT r.node_id, n.node_type, (sum(r.holistic){MICROS} AS holistic,
       (SELECT count(*) FROM dependency_edges e
        WHERE e.from_node = r.node_id
          AND (e.active_to IS NULL OR e.active_to > $1)) AS children
FROM allocation_results r JOIN cost_nodes n USING (node_id)
WHERE {IN_WINDOW} AND n.node_type IN ('shared', 'platform')
GROUP BY r.node_id, n.node_type
HAVING sum(r.holistic) > 0 AND sum(r.allocated_out) = 0
ORDER BY holistic DESC, r.node_id"""
# $1, $2: days; $3: metrics (empty: all).
_PRODUCT_USAGE: Final = """
SELECT u.node_id, u.metric, sum(u.value)::text AS units, count(DISTINCT u.usage_date)
       AS days
FROM node_usage_by_dimension u JOIN cost_nodes n USING (node_id)
WHERE n.node_type = 'product' AND u.usage_date BETWEEN $1 AND $2
  AND (cardinality($3::text[]) = 0 OR u.metric = ANY($3::text[]))
GROUP BY u.node_id, u.metric
ORDER BY u.node_id, u.metric"""


async def utilisation(db: Reader, window: Window) -> list[dict[str, Any]]:
    """Per node and utilisation metric: mean and peak of the daily figures."""
    rows = await db.fetch(_UTILISATION, window.start, window.end)
    return [dict(r) for r in rows]


async def retained_elsewhere(db: Reader, window: Window) -> list[dict[str, Any]]:
    """Nodes other than products that kept cost, largest first."""
    return [dict(r) for r in await db.fetch(_RETAINED, *window_args(window))]


async def idle_shared(db: Reader, window: Window) -> list[dict[str, Any]]:
    """Shared and platform nodes with cost that passed none of it on."""
    return [dict(r) for r in await db.fetch(_IDLE, *window_args(window))]


async def product_usage(
    db: Reader, window: Window, metrics: list[str]
) -> list[dict[str, Any]]:
    """Usage per product and metric over the window's days."""
    rows = await db.fetch(_PRODUCT_USAGE, window.start, window.end, metrics)
    return [dict(r) for r in rows]
