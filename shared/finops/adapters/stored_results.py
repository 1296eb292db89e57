"""Reading the stored allocation results back, in the document of `finops allocate`."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from finops.contracts.settings import PostgresSettings
from finops.domain.allocation.readout import Summary
from finops.domain.money import format_micros

__all__ = ["fetch_document", "fetch_top_products", "to_document"]

_FIGURES = ("direct", "indirect", "holistic", "allocated_out", "retained")
_NODES = f"""
SELECT r.node_id, r.charge_date, r.dimension,
       {", ".join(f"(r.{f} * 1000000)::bigint AS {f}" for f in _FIGURES)},
       coalesce(n.node_type = 'product', false) AS is_product
FROM allocation_results r LEFT JOIN cost_nodes n USING (node_id)
WHERE ($1::date IS NULL OR r.charge_date >= $1)
  AND ($2::date IS NULL OR r.charge_date <= $2)
ORDER BY r.node_id, r.charge_date, r.dimension"""
_FLOWS = """
SELECT from_node, to_node, charge_date, dimension, (amount * 1000000)::bigint AS amount,
       strategy, share
FROM allocation_contributions
WHERE ($1::date IS NULL OR charge_date >= $1)
  AND ($2::date IS NULL OR charge_date <= $2)
ORDER BY from_node, to_node, charge_date, dimension"""


async def fetch_document(
    postgres: PostgresSettings, first: date | None, last: date | None
) -> dict[str, Any]:
    """Summary, node rows and flows of the stored results between two dates."""
    conn = await asyncpg.connect(
        postgres.database_url, server_settings={"search_path": postgres.db_schema}
    )
    try:
        nodes = await conn.fetch(_NODES, first, last)
        flows = await conn.fetch(_FLOWS, first, last)
    finally:
        await conn.close()
    return to_document(nodes, flows)


def to_document(nodes: list[Any], flows: list[Any]) -> dict[str, Any]:
    """The JSON document, amounts as six-decimal strings (as `finops allocate`)."""
    raw = sum(r["direct"] for r in nodes)
    kept = sum(r["retained"] for r in nodes if r["is_product"])
    return {
        "summary": Summary(raw, kept, raw - kept).to_json(),
        "nodes": [_node(r) for r in nodes],
        "flows": [_flow(r) for r in flows],
    }


def _node(row: Any) -> dict[str, str]:
    out = {
        "node": row["node_id"],
        "date": row["charge_date"].isoformat(),
        "dimension": row["dimension"],
    }
    out.update((f, format_micros(row[f])) for f in _FIGURES)
    return out


def _flow(row: Any) -> dict[str, Any]:
    return {
        "from": row["from_node"],
        "to": row["to_node"],
        "date": row["charge_date"].isoformat(),
        "dimension": row["dimension"],
        "amount": format_micros(row["amount"]),
        "strategy": row["strategy"],
        "share": row["share"],
    }


_TOP = """
SELECT r.node_id, (sum(r.holistic) * 1000000)::bigint AS holistic
FROM allocation_results r JOIN cost_nodes n USING (node_id)
WHERE n.node_type = 'product'
GROUP BY r.node_id ORDER BY sum(r.holistic) DESC, r.node_id LIMIT $1"""
_COVERED = "SELECT count(*) FROM allocator_days"


async def fetch_top_products(
    postgres: PostgresSettings, limit: int
) -> tuple[list[tuple[str, int]], int]:
    """Products by holistic cost (micro-units), and how many dates are stored."""
    conn = await asyncpg.connect(
        postgres.database_url, server_settings={"search_path": postgres.db_schema}
    )
    try:
        rows = await conn.fetch(_TOP, limit)
        days = await conn.fetchval(_COVERED)
    finally:
        await conn.close()
    return [(r["node_id"], r["holistic"]) for r in rows], int(days)
