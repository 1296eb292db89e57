"""What each platform, shared or resource node passed to whom, strategy and share."""

from __future__ import annotations

from typing import Any

from api.params import Page, Window
from api.queries import costs, graph
from api.queries.base import Reader
from api.shapes import figures, money, node_json, page_json

__all__ = ["passed_on"]


async def passed_on(
    db: Reader, window: Window, page: Page, *, types: list[str]
) -> dict[str, Any]:
    """Nodes of these types by what they passed on, each with its receivers."""
    rows, total = await costs.ranked_nodes(
        db,
        window,
        types=types,
        order="allocated_out",
        limit=page.limit,
        offset=page.offset,
    )
    flows = await graph.flows_out_of(db, window, [r["node_id"] for r in rows])
    receivers = await graph.node_types(db, sorted({f["to_node"] for f in flows}))
    currency = window.currency
    items = []
    for row in rows:
        holistic = int(row["holistic"])
        items.append(
            {
                **node_json(row),
                "costs": figures(row, currency),
                "passed_to": [
                    {
                        "id": f["to_node"],
                        "type": receivers.get(f["to_node"], {}).get(
                            "node_type", "unknown"
                        ),
                        "amount": money(f["amount"], currency),
                        "strategies": list(f["strategies"]),
                        "share_min": f["share_min"],
                        "share_max": f["share_max"],
                        "share_of_holistic": int(f["amount"]) / holistic
                        if holistic
                        else 0.0,
                    }
                    for f in flows
                    if f["from_node"] == row["node_id"]
                ],
            }
        )
    return {
        "window": window.to_json(),
        "types": types,
        **page_json(items, total, page.limit, page.offset),
    }
