"""Allocated costs as FOCUS 1.3 rows, streamed day by day from the stored results.

Every stored bill line of the window (its charge period's first day) is split over the
nodes its node's direct cost ended at that day and dimension (finops.domain.focus.
allocated): one allocated charge per receiving node, products and the nodes that kept
cost alike (`x_FinopsAllocatedNodeType` tells which), with `AllocatedMethodId`,
`AllocatedMethodDetails` (origin node, share, strategies), `AllocatedResourceId` and
`AllocatedResourceName` (the receiving node), `AllocatedTags` (its labels) and the
origin line's own columns and `Tags`. Each cost column of a line is split in integer
micro-units, so the allocated charges of a line sum to the line exactly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import asyncpg

from finops.domain.focus.allocated import DayAllocation, apportion
from finops.domain.money import format_micros

__all__ = ["ALLOCATED_COLUMNS", "METHOD_ID", "stream_allocated"]

METHOD_ID: Final = "finops-graph"
_COSTS: Final = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
_TEXT: Final = (
    "BillingAccountId",
    "SubAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ServiceProviderName",
    "HostProviderName",
    "ServiceCategory",
    "ServiceName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "RegionId",
    "Tags",
)
ALLOCATED_COLUMNS: Final = (
    *_COSTS,
    *_TEXT,
    "AllocatedMethodId",
    "AllocatedMethodDetails",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
    "x_FinopsAllocatedNodeType",
    "x_FinopsNode",
    "x_FinopsDimension",
    "x_FinopsCost",
    "x_SourceFile",
    "x_SourceLine",
)
_M: Final = " * 1000000)::bigint"
_RESULTS: Final = """
SELECT node_id, dimension, (holistic * 1000000)::bigint AS holistic,
       (retained * 1000000)::bigint AS retained
FROM allocation_results
WHERE charge_date = $1 AND (cardinality($2::text[]) = 0 OR dimension = ANY($2))"""
_FLOWS: Final = """
SELECT from_node, to_node, dimension, (amount * 1000000)::bigint AS amount, strategy
FROM allocation_contributions
WHERE charge_date = $1 AND (cardinality($2::text[]) = 0 OR dimension = ANY($2))
ORDER BY from_node, to_node"""
_LINES: Final = f"""
SELECT (l.billed_cost{_M} AS "BilledCost", (l.effective_cost{_M} AS "EffectiveCost",
       (l.list_cost{_M} AS "ListCost", (l.contracted_cost{_M} AS "ContractedCost",
       l.billing_account_id AS "BillingAccountId",
       l.sub_account_id AS "SubAccountId", l.billing_currency AS "BillingCurrency",
       l.billing_period_start AS "BillingPeriodStart",
       l.charge_category AS "ChargeCategory",
       l.charge_period_start AS "ChargePeriodStart",
       l.charge_period_end AS "ChargePeriodEnd",
       l.provider AS "ServiceProviderName", l.provider AS "HostProviderName",
       l.service_category AS "ServiceCategory", l.service_name AS "ServiceName",
       l.resource_id AS "ResourceId", l.resource_name AS "ResourceName",
       l.resource_type AS "ResourceType", l.region_id AS "RegionId", l.tags AS "Tags",
       l.node, l.dimension, (l.cost{_M} AS cost, i.file_name, l.line
FROM cost_lines l LEFT JOIN ingest_runs i USING (ingest_id)
WHERE l.charge_period_start >= $1::date AND l.charge_period_start < $1::date + 1
  AND (cardinality($2::text[]) = 0 OR l.dimension = ANY($2))
ORDER BY i.file_name, l.line"""
_TYPE_AT: Final = ALLOCATED_COLUMNS.index("x_FinopsAllocatedNodeType")
_NODES: Final = "SELECT node_id, node_type, labels::text AS labels FROM cost_nodes"
_ROWS_PER_CHUNK: Final = 2000


async def stream_allocated(
    pool: asyncpg.Pool,
    start: date,
    end: date,
    dimensions: list[str],
    *,
    only_products: bool = False,
) -> AsyncIterator[bytes]:
    """The allocated charges as CSV bytes (a header first), one day at a time;
    `only_products`: the charges allocated to products only."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(ALLOCATED_COLUMNS)
    async with pool.acquire() as conn:
        nodes = {
            r["node_id"]: (r["node_type"], r["labels"])
            for r in await conn.fetch(_NODES)
        }
        day = start
        while day <= end:
            by_dimension = await _day(conn, day, dimensions)
            async with conn.transaction(readonly=True):
                async for line in conn.cursor(_LINES, day, dimensions, prefetch=2000):
                    for row in _allocated_rows(line, by_dimension, nodes, day):
                        if not only_products or row[_TYPE_AT] == "product":
                            out.writerow(row)
                    if buffer.tell() > 1 << 20:
                        yield buffer.getvalue().encode()
                        buffer.seek(0)
                        buffer.truncate()
            day += timedelta(days=1)
    yield buffer.getvalue().encode()


async def _day(conn: Any, day: date, dimensions: list[str]) -> dict[str, DayAllocation]:
    found: dict[str, DayAllocation] = {}
    for r in await conn.fetch(_RESULTS, day, dimensions):
        alloc = found.setdefault(r["dimension"], DayAllocation())
        alloc.add_node(r["node_id"], int(r["holistic"]), int(r["retained"]))
    for f in await conn.fetch(_FLOWS, day, dimensions):
        alloc = found.setdefault(f["dimension"], DayAllocation())
        alloc.add_flow(f["from_node"], f["to_node"], int(f["amount"]), f["strategy"])
    return found


def _allocated_rows(
    line: Any,
    by_dimension: dict[str, DayAllocation],
    nodes: dict[str, tuple[str, str]],
    day: date,
) -> list[list[Any]]:
    origin, dimension = line["node"], line["dimension"]
    alloc = by_dimension.get(dimension)
    parts = alloc.parts(origin) if alloc is not None else {origin: 1.0}
    splits = {
        column: None if line[column] is None else apportion(int(line[column]), parts)
        for column in (*_COSTS, "cost")
    }
    text = [_text(line[c]) for c in _TEXT]
    rows = []
    for target in sorted(parts):
        kind, labels = nodes.get(target, ("unknown", "{}"))
        details = {
            "origin_node": origin,
            "dimension": dimension,
            "charge_date": day.isoformat(),
            "share": parts[target],
            "strategies": alloc.strategies_into(target) if alloc else [],
        }
        costs = [_money(splits[c], target) for c in _COSTS]
        rows.append(
            [
                *costs,
                *text,
                METHOD_ID,
                json.dumps(details, sort_keys=True),
                target,
                target,
                labels,
                kind,
                origin,
                dimension,
                _money(splits["cost"], target),
                line["file_name"],
                line["line"],
            ]
        )
    return rows


def _money(split: dict[str, int] | None, target: str) -> str:
    return "" if split is None else format_micros(split[target])


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return "" if value is None else str(value)
