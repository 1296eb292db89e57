"""Normalised bill lines as an Arrow table (storage, tracing) and as CostRecords."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from finops.domain.focus.lines import ParsedLines
from finops.domain.focus.parsing import UTC_US, to_micros_array
from finops.domain.focus.tags import parse_tags
from finops.domain.money import from_micros
from finops.domain.records import CostRecord

__all__ = [
    "LINE_TEXT_FIELDS",
    "build_line_table",
    "line_key",
    "line_sources",
    "to_cost_records",
]

LINE_TEXT_FIELDS: Final = (
    "provider",
    "billing_account_id",
    "sub_account_id",
    "charge_category",
    "service_category",
    "service_name",
    "resource_id",
    "region_id",
    "billing_currency",
    "resource_name",
    "resource_type",
)
_COST_FIELDS: Final = ("billed_cost", "effective_cost", "list_cost", "contracted_cost")
_PERIODS: Final = ("billing_period_start", "charge_period_start", "charge_period_end")


def line_key(content_hash: str, line: int) -> str:
    """Stable key of one line of one delivered file."""
    return f"{content_hash[:16]}:{line}"


def _text(parsed: ParsedLines, field: str) -> pa.Array:
    """A text field of the accepted rows (all null when the file lacks it)."""
    values = parsed.view.field(field)
    if values is None:
        return pa.nulls(parsed.view.num_rows, pa.string())
    return pc.cast(values, pa.string())


def _tags_text(parsed: ParsedLines) -> pa.Array:
    """Tags as JSON text; map columns are serialised row by row."""
    tags = parsed.view.field("tags")
    if tags is None:
        return pa.nulls(parsed.view.num_rows, pa.string())
    if not pa.types.is_map(tags.type):
        return pc.cast(tags, pa.string())
    return pa.array(
        [None if t is None else json.dumps(dict(t)) for t in tags.to_pylist()],
        pa.string(),
    )


def line_sources(parsed: ParsedLines, source: str | None) -> pa.Array:
    """The restatement source of each line: given, else `provider:billing account`."""
    if source is not None:
        return pc.fill_null(pa.nulls(parsed.view.num_rows, pa.string()), source)
    parts = [
        pc.fill_null(_text(parsed, f), "") for f in ("provider", "billing_account_id")
    ]
    return pc.binary_join_element_wise(*parts, ":")


def build_line_table(
    parsed: ParsedLines, nodes: pa.Array, dimensions: pa.Array, *, source: str | None
) -> pa.Table:
    """One row per accepted line: FOCUS fields in snake_case, costs in micro-units."""
    columns: dict[str, pa.Array] = {
        "line": pa.array(parsed.lines, pa.int64()),
        "source": line_sources(parsed, source),
    }
    columns |= {f: _text(parsed, f) for f in LINE_TEXT_FIELDS}
    columns |= {
        f: pa.array(getattr(parsed, f), pa.int64()).cast(UTC_US) for f in _PERIODS
    }
    columns["cost_micros"] = pa.array(parsed.cost, pa.int64())
    columns["cost_picos"] = pa.array(parsed.cost_pico, pa.int64())
    for field in _COST_FIELDS:
        values = parsed.view.field(field)
        micros = None if values is None else to_micros_array(values)[0]
        columns[f"{field}_micros"] = micros or pa.nulls(
            parsed.view.num_rows, pa.int64()
        )
    columns |= {"tags": _tags_text(parsed), "node": nodes, "dimension": dimensions}
    return pa.table(columns)


def to_cost_records(lines: pa.Table, *, file: str) -> Iterator[CostRecord]:
    """CostRecord models of a line table (row by row: for small volumes and tests)."""
    for row in lines.to_pylist():
        yield CostRecord(**_record_fields(row, file))


def _record_fields(row: dict[str, Any], file: str) -> dict[str, Any]:
    """CostRecord fields of one line-table row."""
    fields: dict[str, Any] = {f: row[f] for f in (*LINE_TEXT_FIELDS, *_PERIODS)}
    fields |= _decimal_costs(row)
    fields |= {
        "source": file,
        "line": row["line"],
        "billing_account_id": row["billing_account_id"] or "",
        "billing_currency": row["billing_currency"] or "USD",
        "tags": parse_tags(row["tags"]),
        "node": row["node"],
        "dimension": row["dimension"],
    }
    return fields


def _decimal_costs(row: dict[str, Any]) -> dict[str, Decimal | None]:
    """Cost fields of one line as exact Decimals (billed cost 0 when absent)."""
    out = {f: _decimal(row[f"{f}_micros"]) for f in _COST_FIELDS}
    out["billed_cost"] = out["billed_cost"] or Decimal("0.000000")
    return out


def _decimal(micros: int | None) -> Decimal | None:
    """Exact Decimal of micro-units, None stays None."""
    return None if micros is None else from_micros(micros)
