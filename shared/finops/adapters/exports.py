"""CSV exports of what PostgreSQL holds, streamed by COPY: flat memory at any size.

Every export covers charge dates start..end (inclusive) and, where rows have one, the
dimensions asked for (empty: all). Amounts are NUMERIC(24, 6): six decimals, exact.
The `ledger` export is the master ledger: every stored bill line of every provider as
one FOCUS 1.3 file, its mapped node and dimension in `x_` columns. `allocated` is the
allocated costs as FOCUS 1.3 rows (finops.adapters.focus_allocated); format `focus`
gives it for `allocated`, `products` (only charges allocated to products) and `ledger`.
Format `parquet` converts any export (finops.formats.parquet_export), money as
decimal(24, 6).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Final

import asyncpg

from finops.adapters.focus_allocated import stream_allocated
from finops.errors import InputError
from finops.formats.parquet_export import csv_file_to_parquet

__all__ = [
    "EXPORTS",
    "FOCUS_TYPES",
    "FORMATS",
    "TYPES",
    "export_problem",
    "stream_export",
]

_DIMS: Final = "(cardinality($3::text[]) = 0 OR {col} = ANY($3::text[]))"
_DAYS: Final = "{col} BETWEEN $1 AND $2"
_FIG: Final = "direct, indirect, holistic, allocated_out, retained"
_LINE_DAYS: Final = (
    "charge_period_start >= $1::date AND charge_period_start < $2::date + 1"
)

EXPORTS: Final[dict[str, str]] = {
    "nodes": f"""
SELECT node_id AS node, charge_date AS date, dimension, {_FIG}
FROM allocation_results
WHERE {_DAYS.format(col="charge_date")} AND {_DIMS.format(col="dimension")}
ORDER BY charge_date, node_id, dimension""",
    "flows": f"""
SELECT from_node AS "from", to_node AS "to", charge_date AS date, dimension, amount,
       strategy, share
FROM allocation_contributions
WHERE {_DAYS.format(col="charge_date")} AND {_DIMS.format(col="dimension")}
ORDER BY charge_date, from_node, to_node, dimension""",
    "products": f"""
SELECT r.node_id AS product, r.charge_date AS date, r.dimension, r.direct,
       r.indirect AS shared_services, r.holistic, r.retained
FROM allocation_results r JOIN cost_nodes n USING (node_id)
WHERE n.node_type = 'product' AND {_DAYS.format(col="r.charge_date")}
  AND {_DIMS.format(col="r.dimension")}
ORDER BY r.charge_date, r.node_id, r.dimension""",
    "by-type": f"""
SELECT r.charge_date AS date, coalesce(n.node_type, 'unknown') AS type,
       sum(r.direct) AS direct, sum(r.retained) AS retained
FROM allocation_results r LEFT JOIN cost_nodes n USING (node_id)
WHERE {_DAYS.format(col="r.charge_date")} AND {_DIMS.format(col="r.dimension")}
GROUP BY 1, 2 ORDER BY 1, 2""",
    "by-provider": f"""
SELECT charge_period_start::date AS date, provider, service_category, service_name,
       sum(cost) AS cost, count(*) AS lines
FROM cost_lines
WHERE {_LINE_DAYS} AND {_DIMS.format(col="dimension")}
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4""",
    "cost-lines": f"""
SELECT l.source, i.file_name AS file, l.line, l.provider, l.billing_account_id,
       l.sub_account_id, l.charge_category, l.service_category, l.service_name,
       l.resource_id, l.region_id, l.billing_currency, l.charge_period_start,
       l.charge_period_end, l.cost, l.billed_cost, l.effective_cost, l.node,
       l.dimension
FROM cost_lines l LEFT JOIN ingest_runs i USING (ingest_id)
WHERE {_LINE_DAYS} AND {_DIMS.format(col="l.dimension")}
ORDER BY l.charge_period_start, i.file_name, l.line""",
    "usage": """
SELECT node_id AS node, usage_date AS date, metric, labels::text AS labels, source,
       value
FROM node_usage_by_dimension
WHERE usage_date BETWEEN $1 AND $2
  AND (cardinality($3::text[]) = 0 OR metric = ANY($3::text[]))
ORDER BY usage_date, node_id, metric, source, labels_key""",
    "ledger": f"""
SELECT l.billed_cost AS "BilledCost", l.effective_cost AS "EffectiveCost",
       l.list_cost AS "ListCost", l.contracted_cost AS "ContractedCost",
       l.billing_account_id AS "BillingAccountId", l.sub_account_id AS "SubAccountId",
       l.billing_currency AS "BillingCurrency",
       l.billing_period_start AS "BillingPeriodStart",
       l.charge_category AS "ChargeCategory",
       l.charge_period_start AS "ChargePeriodStart",
       l.charge_period_end AS "ChargePeriodEnd",
       l.provider AS "ServiceProviderName", l.provider AS "HostProviderName",
       l.service_category AS "ServiceCategory", l.service_name AS "ServiceName",
       l.resource_id AS "ResourceId", l.resource_name AS "ResourceName",
       l.resource_type AS "ResourceType", l.region_id AS "RegionId", l.tags AS "Tags",
       l.node AS "x_FinopsNode", l.dimension AS "x_FinopsDimension",
       l.cost AS "x_FinopsCost", i.file_name AS "x_SourceFile",
       l.line AS "x_SourceLine", l.source AS "x_Source"
FROM cost_lines l LEFT JOIN ingest_runs i USING (ingest_id)
WHERE {_LINE_DAYS} AND {_DIMS.format(col="l.dimension")}
ORDER BY l.charge_period_start, i.file_name, l.line""",
}

_CHUNKS_AHEAD: Final = 16
ALLOCATED: Final = "allocated"
FORMATS: Final = ("csv", "parquet", "focus")
FOCUS_TYPES: Final = (ALLOCATED, "products", "ledger")
TYPES: Final = (*EXPORTS, ALLOCATED)


def export_problem(kind: str, fmt: str) -> str | None:
    """Why this type and format do not go together (None: they do)."""
    if kind not in TYPES:
        return f"unknown export {kind!r}; one of {', '.join(TYPES)}"
    if fmt not in FORMATS:
        return f"unknown format {fmt!r}; one of {', '.join(FORMATS)}"
    if fmt == "focus" and kind not in FOCUS_TYPES:
        return f"format focus is for {', '.join(FOCUS_TYPES)}, not {kind!r}"
    return None


async def stream_export(
    pool: asyncpg.Pool,
    kind: str,
    start: date,
    end: date,
    dimensions: list[str],
    fmt: str = "csv",
) -> AsyncIterator[bytes]:
    """An export in a format: CSV as produced, FOCUS rows, or a Parquet file."""
    problem = export_problem(kind, fmt)
    if problem:
        raise InputError(problem)
    if fmt == "parquet":
        source = stream_export(pool, kind, start, end, dimensions)
        async for chunk in csv_to_parquet(source):
            yield chunk
        return
    if kind == ALLOCATED or (fmt == "focus" and kind == "products"):
        rows = stream_allocated(
            pool, start, end, dimensions, only_products=kind == "products"
        )
    else:
        rows = stream_csv(pool, kind, start, end, dimensions)
    async for chunk in rows:
        yield chunk


async def csv_to_parquet(source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A CSV stream as a Parquet file: spooled to a temporary file, converted batch
    by batch in a thread, then read out in chunks (memory stays flat)."""
    with tempfile.TemporaryDirectory(prefix="finops-export-") as work:
        csv_path, parquet_path = Path(work) / "e.csv", Path(work) / "e.parquet"
        with csv_path.open("wb") as handle:
            async for chunk in source:
                await asyncio.to_thread(handle.write, chunk)
        await asyncio.to_thread(csv_file_to_parquet, csv_path, parquet_path)
        csv_path.unlink()
        with parquet_path.open("rb") as handle:
            while chunk := await asyncio.to_thread(handle.read, 1 << 20):
                yield chunk


async def stream_csv(
    pool: asyncpg.Pool,
    kind: str,
    start: date,
    end: date,
    dimensions: list[str],
) -> AsyncIterator[bytes]:
    """The export as CSV bytes (a header line first), chunk by chunk, as COPY
    produces them; at most a few chunks are held, whatever the size."""
    query = EXPORTS[kind]
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=_CHUNKS_AHEAD)

    async def put(data: bytes | bytearray | memoryview) -> None:
        await chunks.put(bytes(data))  # COPY's buffer is not ours to keep

    async def copy() -> None:
        try:
            async with pool.acquire() as conn:
                await conn.copy_from_query(
                    query,
                    start,
                    end,
                    dimensions,
                    output=put,
                    format="csv",
                    header=True,
                )
        except asyncio.CancelledError:
            raise  # the reader is gone: nobody waits for the end mark
        except BaseException:
            await chunks.put(None)  # the reader is still reading; it sees the error
            raise
        await chunks.put(None)

    task = asyncio.create_task(copy())
    try:
        while (chunk := await chunks.get()) is not None:
            yield chunk
        await task
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
