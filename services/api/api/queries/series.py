"""A node's figures per day and dimension, and its usage per day and metric."""

from __future__ import annotations

from typing import Any, Final

from api.params import Window
from api.queries.base import FIGURES, IN_WINDOW, MICROS, Reader, window_args

__all__ = ["node_series", "stored_days", "usage_series"]

_SERIES: Final = f"""
SELECT r.charge_date AS day, r.dimension,
       {", ".join(f"(r.{f}{MICROS} AS {f}" for f in FIGURES)}
FROM allocation_results r
WHERE r.node_id = $4 AND {IN_WINDOW}
ORDER BY r.charge_date, r.dimension"""
_USAGE: Final = """
SELECT usage_date AS day, metric, sum(value)::text AS value
FROM node_usage_by_dimension
WHERE node_id = $3 AND usage_date BETWEEN $1 AND $2
  AND (cardinality($4::text[]) = 0 OR metric = ANY($4::text[]))
GROUP BY usage_date, metric ORDER BY usage_date, metric"""
_DAYS: Final = """
SELECT charge_date FROM allocator_days WHERE charge_date BETWEEN $1 AND $2"""


async def node_series(db: Reader, window: Window, node_id: str) -> list[dict[str, Any]]:
    """Stored rows of a node, by day then dimension."""
    rows = await db.fetch(_SERIES, *window_args(window), node_id)
    return [dict(r) for r in rows]


async def usage_series(
    db: Reader, window: Window, node_id: str, metrics: list[str]
) -> list[dict[str, Any]]:
    """Usage per day and metric (summed over labels and sources), sorted."""
    rows = await db.fetch(_USAGE, window.start, window.end, node_id, metrics)
    return [dict(r) for r in rows]


async def stored_days(db: Reader, window: Window) -> set[Any]:
    """Days of the window the allocator has stored results for."""
    return {r["charge_date"] for r in await db.fetch(_DAYS, window.start, window.end)}
