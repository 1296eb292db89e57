"""Explain one number: the chain of flows down to direct costs and their bill lines."""

from __future__ import annotations

from datetime import date
from typing import Any

from api.errors import NotFoundError
from api.queries import graph, trace
from api.queries.base import Reader
from api.shapes import figures, money

__all__ = ["explain"]


async def explain(
    db: Reader,
    *,
    node_id: str,
    day: date,
    dimension: str,
    depth: int,
    lines: int,
    currency: str,
) -> dict[str, Any]:
    """Figures of the node and of every node whose flow reached it, the flows,
    the sources of each direct cost and the bill lines behind them."""
    if await graph.node(db, node_id) is None:
        raise NotFoundError("node", node_id)
    flows, reached = await _chain(db, node_id, day, dimension, depth)
    found = await trace.day_figures(db, reached, day, dimension)
    direct = [n for n in reached if found.get(n, {}).get("direct", 0) != 0]
    sources = await trace.direct_sources(db, direct, day, dimension)
    bill = await trace.bill_lines(db, direct, day, dimension, per_node=lines)
    return {
        "node": node_id,
        "date": day,
        "dimension": dimension,
        "currency": currency,
        "figures": figures(found.get(node_id), currency),
        "flows": [_flow(f, currency) for f in flows],
        "nodes": {n: figures(found.get(n), currency) for n in reached},
        "direct_costs": [
            {
                "node": s["node_id"],
                "source": s["source"],
                "amount": money(s["amount"], s["currency"]),
            }
            for s in sources
        ],
        "bill_lines": [_line(b, currency) for b in bill],
    }


async def _chain(
    db: Reader, node_id: str, day: date, dimension: str, depth: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """Flows into the node, then into its parents, up to `depth` levels."""
    flows: list[dict[str, Any]] = []
    reached, level = [node_id], [node_id]
    for _ in range(depth):
        if not level:
            break
        found = await trace.day_flows_into(db, level, day, dimension)
        flows.extend(found)
        level = sorted({f["from_node"] for f in found} - set(reached))
        reached.extend(level)
    return flows, reached


def _flow(row: dict[str, Any], currency: str) -> dict[str, Any]:
    return {
        "from": row["from_node"],
        "to": row["to_node"],
        "amount": money(row["amount"], currency),
        "strategy": row["strategy"],
        "share": row["share"],
        "metric": row["metric"],
    }


def _line(row: dict[str, Any], currency: str) -> dict[str, Any]:
    return {
        "node": row["node"],
        "file": row["file"],
        "line": row["line"],
        "source": row["source"],
        "provider": row["provider"],
        "service_name": row["service_name"],
        "resource_id": row["resource_id"],
        "charge_category": row["charge_category"],
        "charge_period_start": row["charge_period_start"],
        "charge_period_end": row["charge_period_end"],
        "cost": money(row["cost"], row["billing_currency"] or currency),
        "lines_of_node": row["total"],
    }
