"""Cost totals: the summary, per node, per type, per label, per day, per provider."""

from __future__ import annotations

from typing import Any, Final

from api.params import Window
from api.queries.base import IN_WINDOW, MICROS, SUMS, Reader, window_args

__all__ = [
    "by_label",
    "by_type",
    "daily_totals",
    "line_totals",
    "node_totals",
    "ranked_nodes",
    "summary",
]

_SUMMARY: Final = f"""
SELECT (coalesce(sum(r.direct), 0){MICROS} AS raw,
       (coalesce(sum(r.retained) FILTER (WHERE n.node_type = 'product'), 0)
           {MICROS} AS allocated
FROM allocation_results r LEFT JOIN cost_nodes n USING (node_id)
WHERE {IN_WINDOW}"""
_NODE_TOTALS: Final = f"""
SELECT r.node_id, {SUMS}
FROM allocation_results r
WHERE r.node_id = ANY($4::text[]) AND {IN_WINDOW}
GROUP BY r.node_id"""
# Nodes of some types ranked by a figure over the window; $4: types, $5/$6: page.
_RANKED: Final = f"""
WITH totals AS (
    SELECT r.node_id, {SUMS}
    FROM allocation_results r JOIN cost_nodes n USING (node_id)
    WHERE n.node_type = ANY($4::text[]) AND {IN_WINDOW}
    GROUP BY r.node_id)
SELECT n.node_id, n.node_type, n.labels::text AS labels, n.active,
       coalesce(t.direct, 0) AS direct, coalesce(t.indirect, 0) AS indirect,
       coalesce(t.holistic, 0) AS holistic,
       coalesce(t.allocated_out, 0) AS allocated_out,
       coalesce(t.retained, 0) AS retained,
       count(*) OVER () AS total
FROM cost_nodes n LEFT JOIN totals t USING (node_id)
WHERE n.node_type = ANY($4::text[]) AND (n.active OR t.node_id IS NOT NULL)
ORDER BY coalesce(t.{{order}}, 0) DESC, n.node_id
LIMIT $5 OFFSET $6"""
_RANKED_COUNT: Final = f"""
SELECT count(*) FROM cost_nodes n
WHERE n.node_type = ANY($4::text[]) AND (n.active OR EXISTS (
    SELECT 1 FROM allocation_results r WHERE r.node_id = n.node_id AND {IN_WINDOW}))"""
_BY_TYPE: Final = f"""
SELECT coalesce(n.node_type, 'unknown') AS node_type,
       (sum(r.direct){MICROS} AS direct, (sum(r.retained){MICROS} AS retained,
       count(DISTINCT r.node_id) AS nodes
FROM allocation_results r LEFT JOIN cost_nodes n USING (node_id)
WHERE {IN_WINDOW}
GROUP BY 1 ORDER BY 1"""
_BY_LABEL: Final = f"""
SELECT n.labels ->> $4 AS value, (sum(r.retained){MICROS} AS retained,
       (sum(r.direct){MICROS} AS direct, count(DISTINCT r.node_id) AS nodes
FROM allocation_results r LEFT JOIN cost_nodes n USING (node_id)
WHERE {IN_WINDOW} AND (cardinality($5::text[]) = 0 OR n.node_type = ANY($5::text[]))
GROUP BY 1 ORDER BY 2 DESC, 1 NULLS LAST"""
_DAILY: Final = f"""
SELECT r.charge_date AS day, (sum(r.direct){MICROS} AS raw,
       (coalesce(sum(r.retained) FILTER (WHERE n.node_type = 'product'), 0)
           {MICROS} AS allocated
FROM allocation_results r LEFT JOIN cost_nodes n USING (node_id)
WHERE {IN_WINDOW}
GROUP BY 1 ORDER BY 1"""
# Bill lines by some of their columns; a line counts on its charge period's first day.
LINE_GROUPS: Final = {
    "provider": "provider",
    "service_category": "service_category",
    "service_name": "service_name",
    "sub_account": "sub_account_id",
    "region": "region_id",
    "charge_category": "charge_category",
    "billing_currency": "billing_currency",
}
_LINES: Final = f"""
SELECT {{select}}, (sum(cost){MICROS} AS cost, count(*) AS lines
FROM cost_lines
WHERE charge_period_start >= $1::date AND charge_period_start < $2::date + 1
  AND (cardinality($3::text[]) = 0 OR dimension = ANY($3::text[]))
  AND ($4::text IS NULL OR provider = $4)
GROUP BY {{group}} ORDER BY cost DESC, {{group}}"""


async def summary(db: Reader, window: Window) -> tuple[int, int]:
    """Raw total (every direct cost) and what products keep, in micro-units."""
    row = await db.fetchrow(_SUMMARY, *window_args(window))
    assert row is not None
    return int(row["raw"]), int(row["allocated"])


async def node_totals(
    db: Reader, window: Window, nodes: list[str]
) -> dict[str, dict[str, int]]:
    """The five figures of each node over the window (nodes without rows absent)."""
    rows = await db.fetch(_NODE_TOTALS, *window_args(window), nodes)
    return {
        r["node_id"]: {k: int(v) for k, v in r.items() if k != "node_id"} for r in rows
    }


async def ranked_nodes(
    db: Reader,
    window: Window,
    *,
    types: list[str],
    order: str,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """Nodes of these types by a figure, largest first, and how many there are."""
    assert order in ("holistic", "retained", "allocated_out")
    rows = await db.fetch(
        _RANKED.format(order=order), *window_args(window), types, limit, offset
    )
    if rows:
        return [dict(r) for r in rows], int(rows[0]["total"])
    total = await db.fetchval(_RANKED_COUNT, *window_args(window), types)
    return [], int(total)


async def by_type(db: Reader, window: Window) -> list[dict[str, Any]]:
    """Direct and retained cost per node type."""
    return [dict(r) for r in await db.fetch(_BY_TYPE, *window_args(window))]


async def by_label(
    db: Reader, window: Window, key: str, types: list[str]
) -> list[dict[str, Any]]:
    """Retained and direct cost per value of a label (None: nodes without it)."""
    rows = await db.fetch(_BY_LABEL, *window_args(window), key, types)
    return [dict(r) for r in rows]


async def daily_totals(db: Reader, window: Window) -> list[dict[str, Any]]:
    """Raw and allocated cost per stored day."""
    return [dict(r) for r in await db.fetch(_DAILY, *window_args(window))]


async def line_totals(
    db: Reader, window: Window, groups: list[str], provider: str | None
) -> list[dict[str, Any]]:
    """Bill-line cost grouped by some of LINE_GROUPS."""
    select = ", ".join(f"{LINE_GROUPS[g]} AS {g}" for g in groups)
    group = ", ".join(str(i + 1) for i in range(len(groups)))
    query = _LINES.format(select=select, group=group)
    return [dict(r) for r in await db.fetch(query, *window_args(window), provider)]
