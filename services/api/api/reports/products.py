"""Products with their costs, their upstream tree, and the unallocated remainder."""

from __future__ import annotations

from typing import Any

from api.params import Page, Window
from api.queries import costs, graph
from api.queries.base import Reader
from api.shapes import figures, money, node_json, page_json, summary_json

__all__ = ["hierarchy", "products"]

_SHARED = ["shared", "platform", "resource"]


async def products(db: Reader, window: Window, page: Page) -> dict[str, Any]:
    """Products by holistic cost, largest first."""
    rows, total = await costs.ranked_nodes(
        db, window, types=["product"], order="holistic", **_page(page)
    )
    items = [_product(r, window.currency) for r in rows]
    return {"window": window.to_json(), **page_json(items, total, **_page(page))}


async def hierarchy(
    db: Reader, window: Window, page: Page, *, depth: int
) -> dict[str, Any]:
    """Products with direct, shared-service and holistic cost and their upstream
    tree; the retained cost of every other node as one unallocated entry."""
    raw, allocated = await costs.summary(db, window)
    rows, total = await costs.ranked_nodes(
        db, window, types=["product"], order="holistic", **_page(page)
    )
    levels = await _upstream(db, window, [r["node_id"] for r in rows], depth)
    known = await graph.node_types(db, sorted({f["from_node"] for f in levels}))
    items = []
    for row in rows:
        item = _product(row, window.currency)
        item["upstream"] = _tree(row["node_id"], levels, known, window.currency, depth)
        items.append(item)
    unallocated = {
        "id": "unallocated platform and shared",
        "retained": money(raw - allocated, window.currency),
        "node_types": _SHARED,
    }
    return {
        "window": window.to_json(),
        "summary": summary_json(raw, allocated, window.currency),
        "unallocated": unallocated,
        **page_json(items, total, **_page(page)),
    }


def _page(page: Page) -> dict[str, int]:
    return {"limit": page.limit, "offset": page.offset}


def _product(row: dict[str, Any], currency: str) -> dict[str, Any]:
    shown = figures(row, currency)
    return {
        **node_json(row),
        "direct": shown["direct"],
        "shared_services": shown["indirect"],
        "holistic": shown["holistic"],
        "retained": shown["retained"],
    }


async def _upstream(
    db: Reader, window: Window, nodes: list[str], depth: int
) -> list[dict[str, Any]]:
    """Flows into the nodes, then into their parents, `depth` levels up."""
    found: list[dict[str, Any]] = []
    seen, level = set(nodes), nodes
    for _ in range(depth):
        if not level:
            break
        flows = await graph.flows_into(db, window, level)
        found.extend(flows)
        level = sorted({f["from_node"] for f in flows} - seen)
        seen.update(level)
    return found


def _tree(
    node_id: str,
    flows: list[dict[str, Any]],
    known: dict[str, dict[str, Any]],
    currency: str,
    depth: int,
) -> list[dict[str, Any]]:
    """The parents of a node with what each edge carried over the window."""
    if depth == 0:
        return []
    return [
        {
            "id": f["from_node"],
            "type": known.get(f["from_node"], {}).get("node_type", "unknown"),
            "edge_amount": money(f["amount"], currency),
            "strategies": list(f["strategies"]),
            "share_min": f["share_min"],
            "share_max": f["share_max"],
            "upstream": _tree(f["from_node"], flows, known, currency, depth - 1),
        }
        for f in flows
        if f["to_node"] == node_id
    ]
