"""How amounts, figures and nodes look in answers: money as six-decimal strings."""

from __future__ import annotations

import json
from typing import Any

from api.queries.base import FIGURES
from finops.domain.money import format_micros

__all__ = ["coverage", "figures", "money", "node_json", "page_json", "summary_json"]


def money(micros: int, currency: str) -> dict[str, str]:
    """{"amount": "12.500000", "currency": "USD"}."""
    return {"amount": format_micros(int(micros)), "currency": currency}


def figures(row: dict[str, Any] | None, currency: str) -> dict[str, dict[str, str]]:
    """The five figures of a node (zero when it has no stored rows)."""
    row = row or {}
    return {f: money(int(row.get(f, 0)), currency) for f in FIGURES}


def node_json(row: dict[str, Any]) -> dict[str, Any]:
    """id, type, labels, active."""
    labels = row.get("labels") or "{}"
    return {
        "id": row["node_id"],
        "type": row["node_type"],
        "labels": json.loads(labels) if isinstance(labels, str) else labels,
        "active": bool(row.get("active", True)),
    }


def coverage(allocated: int, raw: int) -> float:
    """allocated / raw, 0 when nothing was spent."""
    return allocated / raw if raw else 0.0


def page_json(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    """A page of items with the real total."""
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def summary_json(raw: int, allocated: int, currency: str) -> dict[str, Any]:
    """raw total, allocated to products, unallocated, coverage."""
    return {
        "raw_total": money(raw, currency),
        "allocated_to_products": money(allocated, currency),
        "unallocated": money(raw - allocated, currency),
        "coverage": coverage(allocated, raw),
    }
