"""Reads of the governance and ingest tables (docs/governance.md, docs/ingest.md):
budgets, alerts, deliveries, action runs, ingest runs and their rejects. Pages carry
the real total. Secrets (webhook and executor) are never answered."""

from __future__ import annotations

import json
import uuid
from typing import Any, Final

from api.params import Page
from api.queries.base import Reader
from api.shapes import page_json

__all__ = [
    "action_run",
    "action_runs",
    "alerts",
    "budgets",
    "deliveries",
    "delivery",
    "ingest_rejects",
    "ingest_run",
    "ingest_runs",
]

_BUDGETS: Final = """
SELECT i.item_id, i.spec, i.version, i.updated_at,
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
            'period_start', s.period_start, 'percent', s.percent::text,
            'basis', s.basis, 'crossings', s.crossings, 'alert_id', s.alert_id)
            ORDER BY s.period_start, s.percent, s.basis), '[]'::jsonb)
     FROM budget_threshold_state s WHERE s.budget_id = i.item_id AND s.firing)
        AS firing
FROM governance_items i WHERE i.kind = 'budget'
ORDER BY i.item_id LIMIT $1 OFFSET $2"""

_ALERTS: Final = """
SELECT seq, alert_id, status, budget_id, period_start, period_end, percent::text,
    basis, spent::text, forecast::text, budget_amount::text, currency, cause,
    created_at, published_at, count(*) OVER () AS total
FROM budget_alerts
WHERE ($3::text IS NULL OR budget_id = $3) AND ($4::text IS NULL OR status = $4)
ORDER BY seq DESC LIMIT $1 OFFSET $2"""

_DELIVERY_COLUMNS: Final = """delivery_id, msg_id, target_kind, target_id, event_type,
    url, status, attempts, next_attempt_at, last_error, action_run_id, created_at,
    delivered_at"""

_DELIVERIES: Final = f"""
SELECT {_DELIVERY_COLUMNS}, count(*) OVER () AS total FROM webhook_deliveries
WHERE $3::text IS NULL OR status = $3
ORDER BY delivery_id DESC LIMIT $1 OFFSET $2"""

_RUN_COLUMNS: Final = """run_id, action_id, alert_id, state, resources, created_at,
    updated_at"""

_RUNS: Final = f"""
SELECT {_RUN_COLUMNS}, count(*) OVER () AS total FROM action_runs
WHERE $3::text IS NULL OR state = $3
ORDER BY created_at DESC, run_id LIMIT $1 OFFSET $2"""

_INGEST_COLUMNS: Final = """ingest_id, origin, format, source, file_name, content_hash,
    rules_id, layout, status, error, rows_read, rows_accepted, rows_rejected,
    provider_totals, billing_periods, started_at, finished_at"""

_INGEST_RUNS: Final = f"""
SELECT {_INGEST_COLUMNS}, count(*) OVER () AS total FROM ingest_runs
WHERE ($3::text IS NULL OR status = $3)
ORDER BY started_at DESC, ingest_id LIMIT $1 OFFSET $2"""


async def _listed(
    db: Reader, page: Page, query: str, count: str, *filters: Any
) -> tuple[list[dict[str, Any]], int]:
    """One page of rows (their window total column dropped) and the real total;
    `count` is asked only for an empty page past the end, which has no window."""
    records = await db.fetch(query, page.limit, page.offset, *filters)
    if records:
        total = int(records[0]["total"])
    elif page.offset == 0:
        total = 0
    else:
        total = int(await db.fetchval(count, *filters))
    return [{k: v for k, v in r.items() if k != "total"} for r in records], total


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def budgets(db: Reader, page: Page) -> dict[str, Any]:
    rows = await db.fetch(_BUDGETS, page.limit, page.offset)
    total = await db.fetchval(
        "SELECT count(*) FROM governance_items WHERE kind = 'budget'"
    )
    version = await db.fetchrow(
        "SELECT version, file_name, applied_at FROM governance_versions "
        "ORDER BY version DESC LIMIT 1"
    )
    items = [
        {
            **_loads(r["spec"]),
            "applied_version": r["version"],
            "updated_at": r["updated_at"],
            "firing": _loads(r["firing"]),
        }
        for r in rows
    ]
    return {
        **page_json(items, int(total), page.limit, page.offset),
        "governance_version": dict(version) if version else None,
    }


async def alerts(
    db: Reader, page: Page, *, budget: str | None, status: str | None
) -> dict[str, Any]:
    items, total = await _listed(
        db,
        page,
        _ALERTS,
        "SELECT count(*) FROM budget_alerts WHERE ($1::text IS NULL OR budget_id = $1)"
        " AND ($2::text IS NULL OR status = $2)",
        budget,
        status,
    )
    for item in items:
        item["cause"] = _loads(item["cause"])
    return page_json(items, total, page.limit, page.offset)


async def deliveries(db: Reader, page: Page, *, status: str | None) -> dict[str, Any]:
    items, total = await _listed(
        db,
        page,
        _DELIVERIES,
        "SELECT count(*) FROM webhook_deliveries WHERE $1::text IS NULL OR status = $1",
        status,
    )
    return page_json(items, total, page.limit, page.offset)


async def delivery(db: Reader, delivery_id: int) -> dict[str, Any] | None:
    row = await db.fetchrow(
        f"SELECT {_DELIVERY_COLUMNS}, payload FROM webhook_deliveries "
        "WHERE delivery_id = $1",
        delivery_id,
    )
    if row is None:
        return None
    attempts = await db.fetch(
        "SELECT attempt, attempted_at, status_code, latency_ms, error, response "
        "FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt",
        delivery_id,
    )
    return {**dict(row), "attempts": [dict(a) for a in attempts]}


async def action_runs(db: Reader, page: Page, *, state: str | None) -> dict[str, Any]:
    items, total = await _listed(
        db,
        page,
        _RUNS,
        "SELECT count(*) FROM action_runs WHERE $1::text IS NULL OR state = $1",
        state,
    )
    for item in items:
        item["resources"] = _loads(item["resources"])
    return page_json(items, total, page.limit, page.offset)


async def action_run(db: Reader, run_id: uuid.UUID) -> dict[str, Any] | None:
    row = await db.fetchrow(
        f"SELECT {_RUN_COLUMNS} FROM action_runs WHERE run_id = $1", run_id
    )
    if row is None:
        return None
    trail = await db.fetch(
        "SELECT at, actor, event, details FROM action_audit WHERE run_id = $1 "
        "ORDER BY seq",
        run_id,
    )
    audit = [{**dict(a), "details": _loads(a["details"])} for a in trail]
    body = dict(row)
    body["resources"] = _loads(body["resources"])
    return {**body, "audit": audit}


def _ingest_json(row: dict[str, Any]) -> dict[str, Any]:
    row["provider_totals"] = _loads(row["provider_totals"])
    return row


async def ingest_runs(db: Reader, page: Page, *, status: str | None) -> dict[str, Any]:
    items, total = await _listed(
        db,
        page,
        _INGEST_RUNS,
        "SELECT count(*) FROM ingest_runs WHERE $1::text IS NULL OR status = $1",
        status,
    )
    return page_json([_ingest_json(i) for i in items], total, page.limit, page.offset)


async def ingest_run(db: Reader, ingest_id: uuid.UUID) -> dict[str, Any] | None:
    row = await db.fetchrow(
        f"SELECT {_INGEST_COLUMNS} FROM ingest_runs WHERE ingest_id = $1", ingest_id
    )
    return _ingest_json(dict(row)) if row is not None else None


async def ingest_rejects(
    db: Reader, ingest_id: uuid.UUID, page: Page
) -> dict[str, Any] | None:
    if await ingest_run(db, ingest_id) is None:
        return None
    rows = await db.fetch(
        "SELECT seq, file, line, reason FROM ingest_rejects WHERE ingest_id = $1 "
        "ORDER BY seq LIMIT $2 OFFSET $3",
        ingest_id,
        page.limit,
        page.offset,
    )
    total = await db.fetchval(
        "SELECT count(*) FROM ingest_rejects WHERE ingest_id = $1", ingest_id
    )
    return page_json([dict(r) for r in rows], int(total), page.limit, page.offset)
