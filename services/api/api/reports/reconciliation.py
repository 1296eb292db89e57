"""Conservation per day, invariant checks, graph stats and freshness."""

from __future__ import annotations

import json
from typing import Any

from api.params import Window
from api.queries import checks
from api.queries.base import Reader
from api.shapes import money

__all__ = ["reconciliation"]


async def reconciliation(db: Reader, window: Window) -> dict[str, Any]:
    """Per day raw = allocated + unallocated to the micro-unit, flows = received =
    passed on, inputs = raw; nodes that break a rule; graph and freshness."""
    balance = await checks.daily_balance(db, window)
    inputs = await checks.inputs_by_day(db, window)
    broken = await checks.broken_nodes(db, window)
    stats = await checks.graph_stats(db)
    days, ingest = await checks.freshness(db, window)
    currency = window.currency
    stored = {d["charge_date"] for d in days}
    rows = [_day(b, inputs.get(b["day"]), currency) for b in balance]
    return {
        "window": window.to_json(),
        "ok": all(r["ok"] for r in rows) and not broken,
        "days": rows,
        "days_without_results": [d for d in window.days if d not in stored],
        "broken_nodes": [
            {
                "node": b["node_id"],
                "date": b["day"],
                "dimension": b["dimension"],
                "allocated_out": money(b["allocated_out"], currency),
                "flows_out": money(b["flows_out"], currency),
                "indirect": money(b["indirect"], currency),
                "flows_in": money(b["flows_in"], currency),
            }
            for b in broken
        ],
        "graph": {
            "version": stats["version"],
            "applied_at": stats["applied_at"],
            "edges": stats["edges"],
            "nodes": json.loads(stats["nodes"]),
        },
        "freshness": {
            "days": [
                {
                    "date": d["charge_date"],
                    "graph_version": d["graph_version"],
                    "current_graph": d["graph_version"] == stats["version"],
                    "input_offsets": json.loads(d["input_offsets"]),
                    "stored_at": d["stored_at"],
                }
                for d in days
            ],
            "last_stored_at": max((d["stored_at"] for d in days), default=None),
            "ingest": ingest,
        },
    }


def _day(row: dict[str, Any], inputs: int | None, currency: str) -> dict[str, Any]:
    raw, allocated, unallocated = row["raw"], row["allocated"], row["unallocated"]
    checks_ = {
        "raw_equals_allocated_plus_unallocated": raw == allocated + unallocated,
        "flows_equal_received": row["flows"] == row["received"],
        "flows_equal_passed_on": row["flows"] == row["passed_on"],
        "inputs_equal_raw": None if inputs is None else inputs == raw,
    }
    return {
        "date": row["day"],
        "raw_total": money(raw, currency),
        "allocated_to_products": money(allocated, currency),
        "unallocated": money(unallocated, currency),
        "received": money(row["received"], currency),
        "passed_on": money(row["passed_on"], currency),
        "flows": money(row["flows"], currency),
        "ingested": None if inputs is None else money(inputs, currency),
        "checks": checks_,
        "ok": all(v is not False for v in checks_.values()),
    }
