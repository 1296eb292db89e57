"""Recommendations (utilisation, unallocated hotspots, idle shared nodes) and unit
costs; the rules are in finops.domain.insights."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api.params import Window
from api.queries import costs, insights
from api.queries.base import Reader
from api.shapes import money
from finops.domain.insights import (
    DOWNSIZE_BELOW,
    RIGHTSIZE_BELOW,
    TARGET_PEAK,
    judge_utilisation,
    unit_cost,
)
from finops.domain.money import to_micros

__all__ = ["recommendations", "unit_costs"]

RULES = {
    "downsize": f"average and peak utilisation below {DOWNSIZE_BELOW} %",
    "rightsize": f"average and peak utilisation below {RIGHTSIZE_BELOW} %",
    "savings": f"direct cost x (1 - peak / {TARGET_PEAK} %), rounded down",
    "unallocated_hotspot": "a node other than a product keeping at least "
    "`min_share` of the raw total (its cost reaches no product)",
    "idle_shared": "a shared or platform node with cost that passed none of it on",
}


async def recommendations(
    db: Reader, window: Window, *, min_share: float
) -> dict[str, Any]:
    """Every recommendation over the window, largest saving or amount first."""
    cur = window.currency
    raw, _allocated = await costs.summary(db, window)
    usage = await insights.utilisation(db, window)
    totals = await costs.node_totals(db, window, sorted({u["node_id"] for u in usage}))
    sizing: list[dict[str, Any]] = []
    for row in usage:
        direct = totals.get(row["node_id"], {}).get("direct", 0)
        verdict = judge_utilisation(
            Decimal(row["average"]), Decimal(row["peak"]), direct
        )
        if verdict is None:
            continue
        sizing.append(
            {
                "kind": verdict.action,
                "node": row["node_id"],
                "type": row["node_type"],
                "metric": row["metric"],
                "days": row["days"],
                "average_percent": float(verdict.average),
                "peak_percent": float(verdict.peak),
                "direct": money(direct, cur),
                "estimated_savings": money(verdict.savings_micros, cur),
                "reason": verdict.reason,
            }
        )
    sizing.sort(key=lambda r: (-to_micros(r["estimated_savings"]["amount"]), r["node"]))
    hotspots = [
        {
            "kind": "unallocated_hotspot",
            "node": r["node_id"],
            "type": r["node_type"],
            "retained": money(r["retained"], cur),
            "share_of_raw": r["retained"] / raw if raw else 0.0,
            "reason": "keeps cost that reaches no product: give it edges (or a "
            "strategy whose usage it has) towards products",
        }
        for r in await insights.retained_elsewhere(db, window)
        if raw and r["retained"] >= min_share * raw
    ]
    idle = [
        {
            "kind": "idle_shared",
            "node": r["node_id"],
            "type": r["node_type"],
            "cost": money(r["holistic"], cur),
            "children": r["children"],
            "reason": "no child received any of its cost"
            + (
                " (it has no edges)"
                if not r["children"]
                else " (its strategies found no usage)"
            ),
        }
        for r in await insights.idle_shared(db, window)
    ]
    saving = sum(to_micros(r["estimated_savings"]["amount"]) for r in sizing)
    return {
        "window": window.to_json(),
        "rules": RULES,
        "estimated_savings": money(saving, cur),
        "rightsizing": sizing,
        "unallocated_hotspots": hotspots,
        "idle_shared": idle,
    }


async def unit_costs(
    db: Reader, window: Window, *, metrics: list[str], revenue_metric: str
) -> dict[str, Any]:
    """Per product and usage metric: cost per unit; margin where revenue is stored."""
    cur = window.currency
    usage = await insights.product_usage(db, window, metrics)
    revenue_rows = await insights.product_usage(db, window, [revenue_metric])
    revenue = {r["node_id"]: Decimal(r["units"]) for r in revenue_rows}
    products = sorted({u["node_id"] for u in usage} | set(revenue))
    totals = await costs.node_totals(db, window, products)
    items = []
    for product in products:
        cost = totals.get(product, {}).get("holistic", 0)
        per_metric = []
        for row in usage:
            if row["node_id"] != product or row["metric"] == revenue_metric:
                continue
            unit = unit_cost(cost, Decimal(row["units"]))
            per_metric.append(
                {
                    "metric": row["metric"],
                    "units": str(unit.units),
                    "days": row["days"],
                    "cost_per_unit": None
                    if unit.per_unit is None
                    else {"amount": str(unit.per_unit), "currency": cur},
                }
            )
        item: dict[str, Any] = {
            "product": product,
            "holistic": money(cost, cur),
            "unit_costs": per_metric,
            "revenue": None,
            "margin": None,
            "margin_ratio": None,
        }
        if product in revenue:
            income = to_micros(revenue[product])
            item["revenue"] = money(income, cur)
            item["margin"] = money(income - cost, cur)
            item["margin_ratio"] = (income - cost) / income if income else None
        items.append(item)
    return {
        "window": window.to_json(),
        "revenue_metric": revenue_metric,
        "note": "holistic cost over the window / the metric's sum over the same days "
        "(nine decimals); margin = revenue (the revenue metric, in the stored "
        "currency) - holistic cost",
        "items": items,
    }
