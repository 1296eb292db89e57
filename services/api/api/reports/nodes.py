"""Nodes: a filtered list, one node with its edges and flows, its daily series."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from api.errors import NotFoundError
from api.params import Page, Window
from api.queries import costs, graph, series
from api.queries.base import FIGURES, Reader
from api.shapes import figures, money, node_json, page_json

__all__ = ["node_detail", "node_list", "node_timeseries"]


async def node_list(
    db: Reader,
    window: Window,
    page: Page,
    *,
    node_type: str | None,
    labels: dict[str, str],
    keys: list[str],
    retired: bool,
) -> dict[str, Any]:
    """A page of nodes by id with their figures over the window."""
    rows, total = await graph.list_nodes(
        db,
        node_type=node_type,
        labels=labels,
        keys=keys,
        retired=retired,
        limit=page.limit,
        offset=page.offset,
    )
    totals = await costs.node_totals(db, window, [r["node_id"] for r in rows])
    items = [
        {**node_json(r), "costs": figures(totals.get(r["node_id"]), window.currency)}
        for r in rows
    ]
    return {
        "window": window.to_json(),
        **page_json(items, total, page.limit, page.offset),
    }


async def node_detail(db: Reader, window: Window, node_id: str) -> dict[str, Any]:
    """The node, its figures, its edges (parents, children) and its flows."""
    found = await graph.node(db, node_id)
    if found is None:
        raise NotFoundError("node", node_id)
    totals = await costs.node_totals(db, window, [node_id])
    edges = await graph.edges_of(db, node_id)
    into, out_of = await graph.flows_between(db, window, node_id)
    currency = window.currency
    return {
        "window": window.to_json(),
        "node": {**node_json(found), "graph_version": found["graph_version"]},
        "costs": figures(totals.get(node_id), currency),
        "parents": [_edge(e, e["from_node"]) for e in edges if e["to_node"] == node_id],
        "children": [
            _edge(e, e["to_node"]) for e in edges if e["from_node"] == node_id
        ],
        "flows": {
            "incoming": [_flow(f, currency) for f in into],
            "outgoing": [_flow(f, currency) for f in out_of],
        },
    }


def _edge(row: dict[str, Any], other: str) -> dict[str, Any]:
    return {
        "node": other,
        "from": row["from_node"],
        "to": row["to_node"],
        "strategy": row["strategy"],
        "params": json.loads(row["params"]),
        "dimensions": json.loads(row["dimensions"]),
        "active_from": row["active_from"],
        "active_to": row["active_to"],
    }


def _flow(row: dict[str, Any], currency: str) -> dict[str, Any]:
    return {
        "from": row["from_node"],
        "to": row["to_node"],
        "amount": money(row["amount"], currency),
        "strategies": list(row["strategies"]),
        "share_min": row["share_min"],
        "share_max": row["share_max"],
    }


async def node_timeseries(
    db: Reader, window: Window, node_id: str, metrics: list[str]
) -> dict[str, Any]:
    """Figures per day and dimension and usage per day and metric, sorted, every day
    of the window present (null where nothing is stored)."""
    if await graph.node(db, node_id) is None:
        raise NotFoundError("node", node_id)
    rows = await series.node_series(db, window, node_id)
    usage = await series.usage_series(db, window, node_id, metrics)
    stored = await series.stored_days(db, window)
    dims = window.dimensions or sorted({r["dimension"] for r in rows})
    names = metrics or sorted({u["metric"] for u in usage})
    cells = {(r["day"], r["dimension"]): r for r in rows}
    values = {(u["day"], u["metric"]): u["value"] for u in usage}
    return {
        "window": window.to_json(),
        "node": node_id,
        "dimensions": dims,
        "metrics": names,
        "costs": [
            _cost_cell(day, dim, cells.get((day, dim)), day in stored, window.currency)
            for day in window.days
            for dim in dims
        ],
        "usage": [
            {"date": day, "metric": m, "value": _number(values.get((day, m)))}
            for day in window.days
            for m in names
        ],
    }


def _cost_cell(
    day: Any, dim: str, row: dict[str, Any] | None, stored: bool, currency: str
) -> dict[str, Any]:
    cell: dict[str, Any] = {"date": day, "dimension": dim, "stored_day": stored}
    for f in FIGURES:
        cell[f] = money(row[f], currency) if row is not None else None
    return cell


def _number(text: str | None) -> str | None:
    return None if text is None else format(Decimal(text).normalize(), "f")
