"""Cost breakdowns: by node type, by label, by provider or service, the dashboard."""

from __future__ import annotations

from typing import Any

from api.params import Window
from api.queries import costs
from api.queries.base import Reader
from api.shapes import money, node_json, summary_json

__all__ = ["by_label", "by_lines", "by_type", "dashboard"]

RETAINED_NOTE = (
    "retained: what stays at each node after it passed cost on; over every node "
    "it adds up to the raw total once (no intermediate node counted twice)"
)


async def by_type(db: Reader, window: Window) -> dict[str, Any]:
    """Retained (and direct) cost per node type; each sums to the raw total."""
    rows = await costs.by_type(db, window)
    raw, _allocated = await costs.summary(db, window)
    return {
        "window": window.to_json(),
        "quantity": "retained",
        "note": RETAINED_NOTE,
        "total": money(raw, window.currency),
        "items": [
            {
                "type": r["node_type"],
                "retained": money(r["retained"], window.currency),
                "direct": money(r["direct"], window.currency),
                "nodes": r["nodes"],
            }
            for r in rows
        ],
    }


async def by_label(
    db: Reader, window: Window, key: str, types: list[str]
) -> dict[str, Any]:
    """Retained cost per value of a label; nodes without it under null."""
    rows = await costs.by_label(db, window, key, types)
    return {
        "window": window.to_json(),
        "key": key,
        "types": types,
        "quantity": "retained",
        "note": RETAINED_NOTE,
        "items": [
            {
                "value": r["value"],
                "retained": money(r["retained"], window.currency),
                "direct": money(r["direct"], window.currency),
                "nodes": r["nodes"],
            }
            for r in rows
        ],
    }


async def by_lines(
    db: Reader, window: Window, groups: list[str], provider: str | None
) -> dict[str, Any]:
    """Bill-line cost (the rules' cost column) grouped by FOCUS columns."""
    rows = await costs.line_totals(db, window, groups, provider)
    return {
        "window": window.to_json(),
        "group_by": groups,
        "quantity": "cost of the bill lines whose charge period starts in the window",
        "items": [
            {
                **{g: r[g] for g in groups},
                "cost": money(r["cost"], window.currency),
                "lines": r["lines"],
            }
            for r in rows
        ],
    }


async def dashboard(db: Reader, window: Window) -> dict[str, Any]:
    """Summary, top products, cost per type and per day."""
    raw, allocated = await costs.summary(db, window)
    top, products = await costs.ranked_nodes(
        db, window, types=["product"], order="holistic", limit=5, offset=0
    )
    kinds = await by_type(db, window)
    days = await costs.daily_totals(db, window)
    currency = window.currency
    return {
        "window": window.to_json(),
        "summary": summary_json(raw, allocated, currency),
        "products": products,
        "top_products": [
            {**node_json(r), "holistic": money(r["holistic"], currency)} for r in top
        ],
        "by_type": kinds["items"],
        "daily": [
            {
                "date": d["day"],
                "raw_total": money(d["raw"], currency),
                "allocated_to_products": money(d["allocated"], currency),
            }
            for d in days
        ],
    }
